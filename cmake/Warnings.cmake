# Project-wide warning and sanitizer flags, applied through the nsg_options interface target.
add_library(nsg_options INTERFACE)
target_compile_options(nsg_options INTERFACE -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wpedantic
                                           # GCC 12 reports false positives inside std::variant
                                           # and std::optional at -O2 (GCC PR 105593 and others).
                                           -Wno-maybe-uninitialized)
if(NSG_WERROR)
  target_compile_options(nsg_options INTERFACE -Werror)
endif()
if(NSG_SANITIZE)
  target_compile_options(nsg_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                               -fno-sanitize-recover=undefined)
  target_link_options(nsg_options INTERFACE -fsanitize=address,undefined)
endif()
target_include_directories(nsg_options INTERFACE ${PROJECT_SOURCE_DIR})

# nsg_library(name SOURCES... DEPS...) — a folder's library target, named nsg_<name>.
function(nsg_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(nsg_${name} STATIC ${ARG_SOURCES})
  target_link_libraries(nsg_${name} PUBLIC nsg_options ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()
