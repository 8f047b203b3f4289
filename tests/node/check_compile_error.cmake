# cmake -DCOMPILER=... -DSOURCE=... -DINCLUDE=... -DCASE=n -DEXPECT=<text> -P check_compile_error.cmake
# Compiles SOURCE (syntax only) with -DDCP_CASE=CASE and succeeds when the compiler refuses it with
# exactly one error whose text contains EXPECT (a static_assert, not a wall of overload errors).
execute_process(
    COMMAND "${COMPILER}" -std=c++20 -fsyntax-only "-I${INCLUDE}" "-DDCP_CASE=${CASE}" "${SOURCE}"
    RESULT_VARIABLE result
    OUTPUT_VARIABLE output
    ERROR_VARIABLE output)
if(result EQUAL 0)
    message(FATAL_ERROR "case ${CASE}: compiled, but it must not")
endif()
string(REGEX MATCHALL "error:" errors "${output}")
list(LENGTH errors error_count)
string(FIND "${output}" "${EXPECT}" found)
if(NOT error_count EQUAL 1 OR found EQUAL -1)
    message(FATAL_ERROR "case ${CASE}: expected one error containing '${EXPECT}', got ${error_count}:\n${output}")
endif()
message(STATUS "case ${CASE}: refused with one error: ${EXPECT}")
