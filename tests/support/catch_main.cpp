// The Catch2 v2 test runner main, compiled once into rlvr_catch_main.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
