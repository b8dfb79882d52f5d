// A C++ program whose static initializer throws: std::terminate -> abort before main().
#include <stdexcept>
#include <string>

namespace config {
struct Loader {
    explicit Loader(const std::string &path) {
        if (!path.empty()) throw std::runtime_error("cannot open " + path);
    }
};
}  // namespace config

static config::Loader loader("/etc/app/config.yaml");

int main() { return 0; }
