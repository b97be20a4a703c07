#include "service/program.hpp"

int main(int argc, char** argv) {
  return ringline::service::run_program(argc, argv);
}
