# install() rules and the Debian package (CPack DEB). packaging/README.md describes the layout;
# scripts/package.sh builds the package from the Release tree, tests/package/test_deb.sh installs
# and runs it.
include(GNUInstallDirs)

# `install` and cpack copy what is built; they do not build `all` first (which would build the
# test suite). Build the product targets, then install: scripts/package.sh does both.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# The lock agent finds the static guard beside its own executable: both go to bin.
install(TARGETS nomad-singleton nomad-singleton-guard RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES packaging/nomad-singleton.service DESTINATION lib/systemd/system)
install(FILES packaging/nomad-singleton.default DESTINATION /etc/default
        RENAME nomad-singleton)
# The controller's spec directory, empty: the admin puts specs there (or points --specs elsewhere).
install(DIRECTORY DESTINATION /etc/nomad-singleton/specs)
set(NSG_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/nomad-singleton)
install(FILES README.md CHANGELOG.md docs/install.md docs/spec.md docs/controller.md
              docs/lock-agent.md docs/timing.md packaging/README.md
        DESTINATION ${NSG_DOC_DIR})
install(DIRECTORY manifests/examples/ DESTINATION ${NSG_DOC_DIR}/examples FILES_MATCHING
        PATTERN "*.yaml")
install(DIRECTORY manifests/nomad/ DESTINATION ${NSG_DOC_DIR}/nomad)
install(FILES crd/singleton.schema.json crd/singletons.nomad-singleton.io.yaml
        DESTINATION ${NSG_DOC_DIR}/crd)
install(DIRECTORY metrics/prometheus metrics/grafana DESTINATION ${NSG_DOC_DIR}/metrics)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME nomad-singleton)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "At most one running instance of each Nomad workload: controller and lock agent")
# CPack indents each line of the long description and turns an empty line into " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "nomad-singleton keeps declarative Singleton specs in line with Nomad: it renders each into a
Nomad job with a lock agent (a TTL lock on a Nomad Variable held from inside the allocation),
registers it with check-and-set, watches the event stream and enforces at most one running
allocation of the protected workload.

This package holds the controller (nomad-singleton controller, as a systemd service), the lock
agent for raw_exec and exec clients (nomad-singleton lock) and the static guard
(nomad-singleton-guard).")
set(CPACK_PACKAGE_CONTACT "nomad-singleton maintainers")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "nomad-singleton maintainers")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Runtime dependencies from the linked shared libraries (dpkg-shlibdeps): libcpprest2.10,
# libyaml-cpp0.7, libprometheus-cpp-*, libspdlog1.10, libfmt9, ... with their versions.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/conffiles ${PROJECT_SOURCE_DIR}/packaging/postinst
    ${PROJECT_SOURCE_DIR}/packaging/prerm ${PROJECT_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
