#include <iostream>
#include <string>
#include <snappy.h>
int main() {
  std::string packed, text(1000, 'x');
  snappy::Compress(text.data(), text.size(), &packed);
  std::cout << "snappy: " << text.size() << " -> " << packed.size() << std::endl;
  return 0;
}
