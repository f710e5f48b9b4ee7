# BLOCKWAL_SANITIZE=address -> AddressSanitizer + UndefinedBehaviorSanitizer
# BLOCKWAL_SANITIZE=thread  -> ThreadSanitizer
if(BLOCKWAL_SANITIZE STREQUAL "address")
  set(_bw_san -fsanitize=address,undefined -fno-sanitize-recover=undefined
              -fno-omit-frame-pointer)
elseif(BLOCKWAL_SANITIZE STREQUAL "thread")
  set(_bw_san -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT BLOCKWAL_SANITIZE STREQUAL "")
  message(FATAL_ERROR "BLOCKWAL_SANITIZE must be '', 'address' or 'thread'")
endif()
if(_bw_san)
  add_compile_options(${_bw_san})
  add_link_options(${_bw_san})
endif()
