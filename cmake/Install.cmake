# Install rules and the exported CMake package `kiln`.
#
#   cmake --install build --prefix /opt/kiln
#   # in another project:
#   find_package(kiln REQUIRED)        # CMAKE_PREFIX_PATH=/opt/kiln
#   target_link_libraries(app PRIVATE kiln::kiln)
#
# To extend: a new library folder is added to KILN_INSTALL_COMPONENTS (its
# NAME/include tree and target kiln_NAME are installed when they exist); a new
# third-party package linked by an installed library gets a
# kiln_package_dependency() rule below, so that kilnConfig.cmake finds it for
# the consumer.
include(CMakePackageConfigHelpers)

set(KILN_INSTALL_COMPONENTS ir compiler runtime frontends)
set(KILN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/kiln)

# Consumers compile kiln's headers, which need C++20 (std::span).
target_compile_features(kiln_all INTERFACE cxx_std_20)

set(kiln_install_targets kiln_all)
foreach(component IN LISTS KILN_INSTALL_COMPONENTS)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${component}/include)
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${component}/include/
      DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
      COMPONENT devel)
  endif()
  if(TARGET kiln_${component})
    list(APPEND kiln_install_targets kiln_${component})
  endif()
endforeach()

install(TARGETS ${kiln_install_targets}
  EXPORT kilnTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT devel
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS kiln RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
file(RELATIVE_PATH kiln_libdir_from_bindir ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
set_target_properties(kiln PROPERTIES INSTALL_RPATH "$ORIGIN/${kiln_libdir_from_bindir}")

# The embedded MNIST sample that scripts/setup prepared in the build tree, if
# it did: the installed library finds it here (kiln::data::defaultMnistDir).
install(DIRECTORY ${PROJECT_BINARY_DIR}/data/mnist-sample/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/kiln/mnist-sample
  COMPONENT data
  OPTIONAL)
install(EXPORT kilnTargets
  NAMESPACE kiln::
  DESTINATION ${KILN_INSTALL_CMAKEDIR}
  COMPONENT devel)

# Third-party packages that the exported targets link. kiln's libraries are
# shared, so only packages in their public interface reach the consumer
# (fmt, through kiln::ir's headers); LLVM, oneDNN, OpenMP and zlib are linked
# privately and stay behind the shared libraries. Should a static build or a
# new public dependency bring one back, the rules below turn its link items
# into kiln_find_dependency() calls that name the Debian package to install.
set(kiln_link_items "")
foreach(t IN LISTS kiln_install_targets)
  get_target_property(items ${t} INTERFACE_LINK_LIBRARIES)
  if(items)
    list(APPEND kiln_link_items ${items})
  endif()
endforeach()

# kiln_package_dependency(REGEX DEBIAN_PACKAGE ARGS): if a link item matches
# REGEX, kilnConfig.cmake finds the package with ARGS, or fails naming the
# Debian package that provides it.
set(KILN_FIND_DEPENDENCIES "")
function(kiln_package_dependency regex debian args)
  foreach(item IN LISTS kiln_link_items)
    if(item MATCHES "${regex}")
      set(KILN_FIND_DEPENDENCIES
        "${KILN_FIND_DEPENDENCIES}kiln_find_dependency(\"${debian}\" ${args})\n" PARENT_SCOPE)
      return()
    endif()
  endforeach()
endfunction()
kiln_package_dependency("^fmt::" libfmt-dev "fmt")
# Any LLVM 19.1.x: LLVM's version file accepts a newer patch release.
kiln_package_dependency("^(\\$<LINK_ONLY:)?LLVM" llvm-19-dev
  "LLVM ${LLVM_VERSION_MAJOR}.${LLVM_VERSION_MINOR} CONFIG HINTS /usr/lib/llvm-${LLVM_VERSION_MAJOR}/lib/cmake/llvm")
kiln_package_dependency("DNNL::" "libdnnl-dev ocl-icd-opencl-dev" "dnnl CONFIG")
kiln_package_dependency("OpenMP::" "libgomp1" "OpenMP COMPONENTS CXX")
kiln_package_dependency("ZLIB::" zlib1g-dev "ZLIB")

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/kilnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/kilnConfig.cmake
  INSTALL_DESTINATION ${KILN_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# 0.x: minor versions may break the API.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/kilnConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
    ${PROJECT_BINARY_DIR}/cmake/kilnConfig.cmake
    ${PROJECT_BINARY_DIR}/cmake/kilnConfigVersion.cmake
  DESTINATION ${KILN_INSTALL_CMAKEDIR}
  COMPONENT devel)
