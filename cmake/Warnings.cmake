# Project-wide warning and sanitizer flags, applied through the nsg_options interface target.
add_library(nsg_options INTERFACE)
target_compile_options(nsg_options INTERFACE -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wpedantic
                                           # GCC 12 reports false positives inside std::variant
                                           # and std::optional at -O2 (GCC PR 105593 and others).
                                           $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
if(NSG_WERROR)
  target_compile_options(nsg_options INTERFACE -Werror)
endif()
# Sanitizers: every executable links the ASan + UBSan runtime (nsg_options' link flags), and the
# product's code — every nsg_library and the two product executables (nsg_instrument) — is
# compiled with the instrumentation. Test sources are not: the code under test is what the
# sanitizers must watch, and instrumenting the test files cost CI a third of the sanitized
# tree's compile time (docs/testing.md).
set(NSG_SANITIZE_COMPILE_FLAGS "")
if(NSG_SANITIZE)
  set(NSG_SANITIZE_COMPILE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
                                 -fno-sanitize-recover=undefined)
  target_link_options(nsg_options INTERFACE -fsanitize=address,undefined)
endif()
function(nsg_instrument target)
  target_compile_options(${target} PRIVATE ${NSG_SANITIZE_COMPILE_FLAGS})
endfunction()
target_include_directories(nsg_options INTERFACE ${PROJECT_SOURCE_DIR})

# nsg_library(name SOURCES... DEPS...) — a folder's library target, named nsg_<name>.
function(nsg_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(nsg_${name} STATIC ${ARG_SOURCES})
  target_link_libraries(nsg_${name} PUBLIC nsg_options ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  nsg_instrument(nsg_${name})
endfunction()
