// LoadSpecSet: the controller's spec directory → an immutable runtime::SpecSet.
//
// Every valid spec is rendered (with the directory's git revision in Meta); an invalid spec whose
// key can be read becomes an invalid entry carrying the diagnostics of its document, so its job is
// left as it is. Whatever kept the read from being complete is listed in SpecSet::unreadable: the
// directory or a subdirectory that cannot be listed (or is gone, or is a file), a spec file that
// cannot be read or is not a regular file (FIFO, device, directory), a file with no document
// (emptied, truncated to comments), a document whose metadata.name cannot be read. While that
// list is not empty every singleton of `previous` that is missing now stays, as invalid with
// reason SourceUnreadable: a broken source never looks like a deletion. Entries' fingerprints
// change whenever what the reconciler sees changes — not with the revision alone.
//
// Reads the file system; no shared state, safe for concurrent use.
#pragma once

#include <string>

#include "controller/controller_io/spec_files.h"
#include "controller/runtime/controller_core.h"

namespace nsg::io {

// Reads `dir` with ReadSpecDirectory; the result's `dir` is `dir`.
runtime::SpecSet LoadSpecSet(const std::string& dir, const runtime::SpecSet& previous,
                             const std::string& revision = "");
// The same from files already read (the fault simulation's specs live in memory).
runtime::SpecSet BuildSpecSet(const SpecFiles& files, const runtime::SpecSet& previous,
                              const std::string& revision = "");

}  // namespace nsg::io
