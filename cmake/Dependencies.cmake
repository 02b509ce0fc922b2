# Every dependency comes from Debian bookworm's packages (.ci/setup-deps.sh installs them).
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(simdjson REQUIRED)
find_package(spdlog REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(cpprestsdk REQUIRED)
find_package(OpenSSL REQUIRED)
# zlib: the controller keeps rendered jobs deflated (controller/render/compact.h); Debian's
# zlib1g-dev, which libcpprest-dev depends on too.
find_package(ZLIB REQUIRED)
if(NSG_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(NSG_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# cpprestsdk workarounds (shared/cpp-libs.md §2): Debian's export does not link OpenSSL, and its
# global U() macro breaks fmt 9. Only controller/nomad_client and controller/sim's front end may
# link this.
add_library(nsg_cpprest INTERFACE)
target_link_libraries(nsg_cpprest INTERFACE cpprestsdk::cpprest OpenSSL::SSL OpenSSL::Crypto)
target_compile_definitions(nsg_cpprest INTERFACE _TURN_OFF_PLATFORM_STRING)
