// Fuzz target: the spec loader (YAML decode, validation, the timer rule and a trial render) on
// any bytes. It must never crash, and every singleton it accepts must render: the contract that
// `validate` passing means the controller can register the spec.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "controller/render/job_renderer.h"
#include "controller/spec/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto loaded = nsg::spec::LoadSpecs({{"fuzz.yaml", text}}, nsg::render::CheckSpec);
  for (const auto& s : loaded.valid) {
    if (!nsg::render::Render(s).ok()) std::abort();  // validated, yet not renderable
  }
  return 0;
}
