// tests/node/dora/fake_dora/rust_builtins.h — the rust:: types of the FAKE Dora header (dora-node-api.h
// here), as the header cxx generates carries them inline: rust::String, Str, Slice, Vec and Box. Like
// the generated header, and unlike cxx's own `rust/cxx.h`, it declares NO rust::Error: a bridge
// function that fails throws an exception derived from std::exception, whose type the caller cannot
// name. Only dora-node-api.h includes this file; the adapter must not.
//
// Behaviour of the real types where it matters:
//   - String and Str check that their bytes are UTF-8 and throw std::invalid_argument otherwise;
//   - Vec keeps its heap buffer when moved (data() of the moved-to Vec is the old data());
//   - Box is move-only and destroys its object through BoxDrop<T> (so opaque types declared in
//     dora-node-api.h, like Dora's, can be boxed where they are incomplete).
// Not thread-safe beyond what std::string / std::vector are. Test-only: never part of dcp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rust {
inline namespace cxxbridge1 {

namespace detail {
/// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
inline bool is_utf8(std::string_view text) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const unsigned char c = bytes[i];
    std::size_t extra = 0;
    std::uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      code = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      code = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      code = c & 0x07u;
    } else {
      return false;
    }
    if (n - i <= extra) return false;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      if ((bytes[i + k] & 0xC0u) != 0x80u) return false;
      code = (code << 6) | (bytes[i + k] & 0x3Fu);
    }
    if ((extra == 2 && code < 0x800) || (extra == 3 && code < 0x10000) || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}
}  // namespace detail

class String final {
 public:
  String() noexcept = default;
  String(const std::string& text) : String(text.data(), text.size()) {}  // NOLINT: implicit, as cxx
  String(const char* text) : String(text, std::strlen(text)) {}           // NOLINT: implicit, as cxx
  String(const char* text, std::size_t length) {
    if (!detail::is_utf8(std::string_view(text == nullptr ? "" : text, length))) {
      throw std::invalid_argument("data for rust::String is not utf-8");
    }
    if (length > 0) value_.assign(text, length);
  }

  explicit operator std::string() const { return value_; }
  const char* data() const noexcept { return value_.data(); }
  std::size_t size() const noexcept { return value_.size(); }
  std::size_t length() const noexcept { return value_.size(); }
  bool empty() const noexcept { return value_.empty(); }

  friend bool operator==(const String& a, const String& b) noexcept { return a.value_ == b.value_; }

 private:
  std::string value_;
};

class Str final {
 public:
  Str() noexcept = default;
  Str(const std::string& text) : Str(text.data(), text.size()) {}  // NOLINT: implicit, as cxx
  Str(const char* text) : Str(text, std::strlen(text)) {}          // NOLINT: implicit, as cxx
  Str(const char* text, std::size_t length) : view_(text == nullptr ? "" : text, length) {
    if (!detail::is_utf8(view_)) throw std::invalid_argument("data for rust::Str is not utf-8");
  }

  explicit operator std::string() const { return std::string(view_); }
  const char* data() const noexcept { return view_.data(); }
  std::size_t size() const noexcept { return view_.size(); }
  std::size_t length() const noexcept { return view_.size(); }
  bool empty() const noexcept { return view_.empty(); }

 private:
  std::string_view view_;
};

template <class T>
class Slice final {
 public:
  Slice() noexcept = default;
  Slice(T* data, std::size_t count) noexcept : data_(data), size_(count) {}

  T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t length() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T* begin() const noexcept { return data_; }
  T* end() const noexcept { return data_ + size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

template <class T>
class Vec final {
 public:
  Vec() noexcept = default;
  Vec(const Vec&) = default;
  Vec(Vec&&) noexcept = default;
  Vec& operator=(const Vec&) = default;
  Vec& operator=(Vec&&) noexcept = default;
  ~Vec() = default;

  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  const T* data() const noexcept { return items_.data(); }
  T* data() noexcept { return items_.data(); }
  const T& operator[](std::size_t i) const noexcept { return items_[i]; }
  T& operator[](std::size_t i) noexcept { return items_[i]; }
  void reserve(std::size_t count) { items_.reserve(count); }
  void push_back(const T& value) { items_.push_back(value); }
  void push_back(T&& value) { items_.push_back(std::move(value)); }
  auto begin() const noexcept { return items_.begin(); }
  auto end() const noexcept { return items_.end(); }

 private:
  std::vector<T> items_;
};

/// Destroys a boxed object. Opaque Rust types get a specialization whose drop() is defined where
/// the type is complete (in Dora: in Rust; here: in fake_dora.cpp).
template <class T>
struct BoxDrop {
  static void drop(T* object) noexcept { delete object; }
};

template <class T>
class Box final {
 public:
  Box(const Box&) = delete;
  Box& operator=(const Box&) = delete;
  Box(Box&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  Box& operator=(Box&& other) noexcept {
    if (this != &other) {
      reset();
      object_ = std::exchange(other.object_, nullptr);
    }
    return *this;
  }
  ~Box() { reset(); }

  /// Takes ownership of `object` (never null).
  static Box from_raw(T* object) noexcept { return Box(object); }
  T* into_raw() noexcept { return std::exchange(object_, nullptr); }

  T& operator*() noexcept { return *object_; }
  const T& operator*() const noexcept { return *object_; }
  T* operator->() noexcept { return object_; }
  const T* operator->() const noexcept { return object_; }

 private:
  explicit Box(T* object) noexcept : object_(object) {}
  void reset() noexcept {
    if (object_ != nullptr) BoxDrop<T>::drop(std::exchange(object_, nullptr));
  }
  T* object_ = nullptr;
};

}  // namespace cxxbridge1
}  // namespace rust
