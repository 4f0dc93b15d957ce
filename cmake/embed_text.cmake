# ptx_embed_text(<target> <symbol> <file>): compiles the text of <file> into <target> as
#   namespace ptx::embedded { extern const char <symbol>[]; }
# so the executable carries it (the serve page, the demo's configuration) and needs no install
# path. CMake re-configures when the file changes.
function(ptx_embed_text target symbol file)
  file(READ ${file} PTX_EMBED_CONTENT)
  set(PTX_EMBED_SYMBOL ${symbol})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${file})
  set(out ${CMAKE_BINARY_DIR}/generated/ptx/embedded/${symbol}.cpp)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/embedded.cpp.in ${out} @ONLY)
  target_sources(${target} PRIVATE ${out})
  set_source_files_properties(${out} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
endfunction()
