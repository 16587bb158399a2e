#include <iostream>

int main() {
  std::cerr << "keel: CLI under construction\n";
  return 2;
}
