# oneDNN as the imported target keel::dnnl, included both by keel's own build and by the installed
# keelConfig.cmake (install(EXPORT) cannot export a plain INTERFACE target of the project).
# Debian's dnnl-config.cmake demands OpenCL headers (its GPU runtime); keel only uses the CPU
# engine, so the library and header are found directly.
if(NOT TARGET keel::dnnl)
  find_library(KEEL_DNNL_LIBRARY NAMES dnnl REQUIRED)
  find_path(KEEL_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp REQUIRED)
  add_library(keel::dnnl UNKNOWN IMPORTED)
  set_target_properties(keel::dnnl PROPERTIES
    IMPORTED_LOCATION "${KEEL_DNNL_LIBRARY}"
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${KEEL_DNNL_INCLUDE_DIR}"
    INTERFACE_INCLUDE_DIRECTORIES "${KEEL_DNNL_INCLUDE_DIR}")
endif()
