# SPDX-License-Identifier: BSD-3-Clause
# Writes one man page from the built h5div's --help with help2man (cmake -P):
#   -DHELP2MAN=... -DH5DIV=path/to/h5div -DCOMMAND=compare|"" -DSUMMARY=... -DOUT=file.1
# With COMMAND the page is h5div-COMMAND(1), from `h5div COMMAND --help`.
foreach(var HELP2MAN H5DIV OUT SUMMARY)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "h5divMan.cmake: ${var} is not set")
  endif()
endforeach()

get_filename_component(_dir "${OUT}" DIRECTORY)
get_filename_component(_stem "${OUT}" NAME_WE)
set(_include "${_dir}/${_stem}.h2m")
set(_commands compare entropy joint surprisal history histogram)
if(COMMAND)
  set(_name "h5div-${COMMAND}")
  set(_help "${COMMAND} --help")
  set(_see "\\fBh5div\\fR(1)")
  foreach(c IN LISTS _commands)
    if(NOT c STREQUAL COMMAND)
      string(APPEND _see ", \\fBh5div-${c}\\fR(1)")
    endif()
  endforeach()
else()
  set(_name "h5div")
  set(_help "--help")
  set(_see "")
  foreach(c IN LISTS _commands)
    if(_see)
      string(APPEND _see ", ")
    endif()
    string(APPEND _see "\\fBh5div-${c}\\fR(1)")
  endforeach()
endif()
file(WRITE "${_include}" "[SEE ALSO]\n${_see}\n\nThe README of h5div describes the result layout, the accuracy and the\nSlurm scripts in full.\n")

# --no-discard-stderr: whatever the command prints goes into the page, so a
# failure shows there rather than as an empty page.
execute_process(
  COMMAND "${HELP2MAN}" --no-info --no-discard-stderr --section=1 --name=${SUMMARY}
          --help-option=${_help} --version-option=--version --include=${_include}
          --output=${OUT}.tmp "${H5DIV}"
  RESULT_VARIABLE _rc ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  file(REMOVE "${OUT}.tmp")
  message(FATAL_ERROR "help2man failed for ${_name} (${_rc}): ${_err}")
endif()
file(READ "${OUT}.tmp" _page)
file(REMOVE "${OUT}.tmp")
# Whatever the layout of --help (help2man makes a SYNOPSIS of a "Usage:" line),
# a real help text names the command and lists --version.
if(NOT _page MATCHES "h5div ${COMMAND}" OR NOT _page MATCHES "\\\\-\\\\-version")
  message(FATAL_ERROR "${_name}: `h5div ${_help}` did not print its help:\n${_page}")
endif()
# help2man names every page after the program; per-command pages take their own name.
if(COMMAND)
  string(TOUPPER "${_name}" _title)
  string(REGEX REPLACE "\n\\.TH H5DIV " "\n.TH ${_title} " _page "${_page}")
  string(REGEX REPLACE "\n\\.SH NAME\nh5div \\\\-" "\n.SH NAME\nh5div\\\\-${COMMAND} \\\\-" _page
         "${_page}")
endif()
file(WRITE "${OUT}" "${_page}")
