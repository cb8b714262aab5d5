# Failover benchmark client (bench/failover.sh): activations in a loop over
# a list of replicas through libcairn's failover.
if(TARGET cairn_client_core)
  add_executable(failover_bench ${CMAKE_CURRENT_SOURCE_DIR}/failover_bench.c)
  target_link_libraries(failover_bench PRIVATE cairn_client_core)
  set_target_properties(failover_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()
