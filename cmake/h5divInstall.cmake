# SPDX-License-Identifier: BSD-3-Clause
# Install rules of h5div: the command, the library with its CMake package and
# pkg-config file, man pages, bash completion, and the Debian package (CPack).

install(TARGETS h5div EXPORT h5divTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS h5div_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES include/h5div.h include/h5div_types.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT h5divTargets NAMESPACE h5div::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/h5div)
configure_package_config_file(cmake/h5divConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/h5divConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/h5div)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/h5divConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/h5divConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/h5divConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/h5div)

# pkg-config: h5div.pc beside the CMake package. The prefix is found from the
# .pc file's own place, so the file stays right when the tree is moved or
# packaged under another prefix. MPI's flags are written out from FindMPI
# (the name of MPI's own .pc differs between MPI libraries); HDF5 is private
# to a shared libh5div.
set(_pcdir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(H5DIV_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(H5DIV_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _up "/prefix/${_pcdir}" "/prefix")
  string(REGEX REPLACE "/$" "" _up "${_up}")
  set(H5DIV_PC_PREFIX "\${pcfiledir}/${_up}")
  set(H5DIV_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(H5DIV_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(H5DIV_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
set(H5DIV_PC_CFLAGS "")
foreach(d IN LISTS MPI_C_INCLUDE_DIRS)
  string(APPEND H5DIV_PC_CFLAGS " -I${d}")
endforeach()
foreach(d IN LISTS MPI_C_COMPILE_DEFINITIONS)
  string(APPEND H5DIV_PC_CFLAGS " -D${d}")
endforeach()
foreach(o IN LISTS MPI_C_COMPILE_OPTIONS)
  string(APPEND H5DIV_PC_CFLAGS " ${o}")
endforeach()
set(H5DIV_PC_LIBS "")
foreach(o IN LISTS MPI_C_LINK_FLAGS)
  string(APPEND H5DIV_PC_LIBS " ${o}")
endforeach()
foreach(l IN LISTS MPI_C_LIBRARIES)
  string(APPEND H5DIV_PC_LIBS " ${l}")
endforeach()
set(_private "")
foreach(l IN LISTS HDF5_C_LIBRARIES HDF5_LIBRARIES H5DIV_GSL_LIBS)
  if(l MATCHES "^-" OR IS_ABSOLUTE "${l}")
    list(APPEND _private "${l}")
  else()
    list(APPEND _private "-l${l}")
  endif()
endforeach()
list(APPEND _private -lm)
list(REMOVE_DUPLICATES _private)
list(JOIN _private " " _private)
set(H5DIV_PC_LIBS_PRIVATE " ${_private}")
configure_file(cmake/h5div.pc.in ${CMAKE_CURRENT_BINARY_DIR}/h5div.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/h5div.pc DESTINATION ${_pcdir})

# Man pages h5div(1) and h5div-COMMAND(1), from the built command's --help.
# help2man runs the command at build time; as root Open MPI needs leave to
# start (a --help that starts no MPI ignores these).
# Without help2man the build goes on without them (a warning says so).
set(H5DIV_BUILD_MAN OFF)
if(H5DIV_MAN_PAGES)
  find_program(H5DIV_HELP2MAN help2man)
  if(H5DIV_HELP2MAN)
    set(H5DIV_BUILD_MAN ON)
  else()
    message(WARNING "help2man is not installed (Debian: apt-get install help2man): no man pages")
  endif()
endif()
if(H5DIV_BUILD_MAN)
  set(_pages
    "|distances and entropies of histograms in HDF5, evaluated with MPI"
    "compare|compare histogram P with one or more candidates Q"
    "entropy|entropy of a histogram with bias-corrected estimators"
    "joint|entropies and mutual information of a 2-D joint histogram"
    "surprisal|per-bin self-information of a histogram, written to HDF5"
    "history|the runs of an h5div result history as a table, CSV or plot"
    "histogram|histograms of samples in HDF5 with shared bin edges")
  set(_outputs "")
  foreach(page IN LISTS _pages)
    string(REPLACE "|" ";" page "${page}")
    list(GET page 0 _cmd)
    list(GET page 1 _summary)
    if(_cmd)
      set(_out ${CMAKE_CURRENT_BINARY_DIR}/man/h5div-${_cmd}.1)
    else()
      set(_out ${CMAKE_CURRENT_BINARY_DIR}/man/h5div.1)
    endif()
    add_custom_command(OUTPUT ${_out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
      COMMAND ${CMAKE_COMMAND} -E env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
              OMPI_MCA_btl_vader_single_copy_mechanism=none
              ${CMAKE_COMMAND} -DHELP2MAN=${H5DIV_HELP2MAN} -DH5DIV=$<TARGET_FILE:h5div_cli>
              -DCOMMAND=${_cmd} -DSUMMARY=${_summary} -DOUT=${_out}
              -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/h5divMan.cmake
      DEPENDS h5div_cli ${CMAKE_CURRENT_SOURCE_DIR}/cmake/h5divMan.cmake
      COMMENT "Generating man page ${_out}" VERBATIM)
    list(APPEND _outputs ${_out})
  endforeach()
  add_custom_target(h5div_man ALL DEPENDS ${_outputs})
  install(FILES ${_outputs} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# bash completion, where bash-completion loads it on demand.
install(FILES packaging/bash-completion/h5div
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# Debian package h5div_VERSION_ARCH.deb (cpack -G DEB in the build directory).
# Depends comes from dpkg-shlibdeps on the installed binaries (Debian 12:
# libopenmpi3, libhdf5-openmpi-103-1, libc6), plus openmpi-bin: Open MPI
# starts even a one-rank run through its orted.
set(CPACK_PACKAGE_NAME h5div)
set(CPACK_PACKAGE_VENDOR "h5div")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
  "h5div computes entropies, KL and Jensen-Shannon divergences, total variation,\n\
Hellinger and more between histograms stored in HDF5 files, with MPI and\n\
parallel HDF5, reproducibly to the last bit on any number of ranks. The\n\
package holds the h5div command, its man pages and bash completion, and the\n\
libh5div library with its header, CMake package and pkg-config file.")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_CURRENT_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES OFF)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "h5div maintainers")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "openmpi-bin")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "gnuplot-nox, hdf5-tools")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libopenmpi-dev, libhdf5-openmpi-dev, slurm-client")
include(CPack)
