#include "client/program.hpp"

int main(int argc, char** argv) {
  return ringline::client::run_program(argc, argv);
}
