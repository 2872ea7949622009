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
install(EXPORT kilnTargets
  NAMESPACE kiln::
  DESTINATION ${KILN_INSTALL_CMAKEDIR}
  COMPONENT devel)

# Third-party packages that the exported targets link. The libraries are
# static, so even privately linked packages ($<LINK_ONLY:...>) must be found
# by the consumer. The rules below turn link items into find_dependency()
# calls; a library that links a new package needs one more rule here.
set(kiln_link_items "")
foreach(t IN LISTS kiln_install_targets)
  foreach(property LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(items ${t} ${property})
    if(items)
      list(APPEND kiln_link_items ${items})
    endif()
  endforeach()
endforeach()

# kiln_package_dependency(REGEX ARGS): if a link item matches REGEX,
# kilnConfig.cmake calls find_dependency(ARGS).
set(KILN_FIND_DEPENDENCIES "")
function(kiln_package_dependency regex args)
  foreach(item IN LISTS kiln_link_items)
    if(item MATCHES "${regex}")
      set(KILN_FIND_DEPENDENCIES "${KILN_FIND_DEPENDENCIES}find_dependency(${args})\n"
        PARENT_SCOPE)
      return()
    endif()
  endforeach()
endfunction()
kiln_package_dependency("^fmt::" "fmt")
kiln_package_dependency("^(\\$<LINK_ONLY:)?LLVM"
  "LLVM ${LLVM_PACKAGE_VERSION} EXACT CONFIG HINTS ${LLVM_DIR}")
kiln_package_dependency("DNNL::" "dnnl CONFIG")
kiln_package_dependency("OpenMP::" "OpenMP COMPONENTS CXX")
kiln_package_dependency("ZLIB::" "ZLIB")

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
