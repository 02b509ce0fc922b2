// LoadSpecSet: the controller's spec directory → an immutable runtime::SpecSet.
//
// Every valid spec is rendered (with the directory's git revision in Meta); an invalid spec whose
// key can be read becomes an invalid entry carrying the diagnostics of its document, so its job is
// left as it is. A file that cannot be read or parsed at all keeps the singletons it held in
// `previous` as invalid: a broken file never looks like a deletion. Entries' fingerprints change
// whenever what the reconciler sees changes — not with the revision alone.
//
// Reads the file system; no shared state, safe for concurrent use.
#pragma once

#include <string>

#include "controller/io/spec_files.h"
#include "controller/runtime/controller_core.h"

namespace nsg::io {

runtime::SpecSet LoadSpecSet(const std::string& dir, const runtime::SpecSet& previous,
                             const std::string& revision = "");
// The same from files already read (the fault simulation's specs live in memory).
runtime::SpecSet BuildSpecSet(const SpecFiles& files, const runtime::SpecSet& previous,
                              const std::string& revision = "");

}  // namespace nsg::io
