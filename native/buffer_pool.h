// Recycles frame buffers. JS releases a tensor by dropping it; its memory comes back here rather than to the
// allocator, so steady-state decoding allocates nothing and touches no fresh pages.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace guardian {

class BufferPool {
 public:
  explicit BufferPool(size_t keep) : keep_(keep) {}
  ~BufferPool() {
    for (auto& b : free_) std::free(b.second);
  }
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  uint8_t* Get(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < free_.size(); i++) {
        if (free_[i].first == bytes) {
          uint8_t* p = free_[i].second;
          free_[i] = free_.back();
          free_.pop_back();
          return p;
        }
      }
    }
    return static_cast<uint8_t*>(std::malloc(bytes));
  }

  void Put(uint8_t* p, size_t bytes) {
    if (!p) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (free_.size() < keep_) {
        free_.emplace_back(bytes, p);
        return;
      }
    }
    std::free(p);
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<size_t, uint8_t*>> free_;
  size_t keep_;
};

}  // namespace guardian
