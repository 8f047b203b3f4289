// examples/robot/robot_messages.hpp — the messages of the robot example and its synthetic sensors.
//
// What it is for: the nodes of examples/robot/dataflow.yml (sensors, processor, monitor) agree on
// the bytes they exchange through this one header. Every binary message is encoded explicitly —
// field by field with memcpy, little-endian, no struct padding on the wire — and starts with a
// 4-byte tag naming its kind, so a message sent to the wrong input is recognised:
//
//   sensors:    out.send_with("lidar", robot::encoded_size(scan),
//                             [&](std::span<std::uint8_t> bytes) { robot::encode_into(scan, bytes); }, meta);
//   processor:  robot::Decoded<robot::LidarScan> scan = robot::decode_lidar_scan(input.data.bytes());
//               if (!scan) { report(scan.error()); return; }        // a bad message never crashes
//               std::vector<float> nearest = robot::nearest_per_sector(scan->points, 4);
//
// Wire layouts (all integers and floats little-endian; i64 = int64, u32 = uint32, f32 = IEEE float):
//   ImuSample        44 bytes:  u32 tag "IMU1" | i64 seq | i64 t_ns | f32 accel[3] | f32 gyro[3]
//   LidarScan   16 + 12*n bytes: u32 tag "LID1" | i64 seq | u32 n    | n x (f32 x, f32 y, f32 z)
//   CameraFrame 20 + w*h bytes: u32 tag "CAM1" | i64 seq | u32 w    | u32 h | w*h grey pixels, row-major
//   VelocityCommand  20 bytes:  u32 tag "CMD1" | i64 frame | f32 linear (m/s) | f32 angular (rad/s)
// Sizes are checked exactly on decode (a payload one byte too long is an error, not ignored), as are
// the bounds (kMaxLidarPoints, kMaxCameraSide), negative sequence numbers, and non-finite IMU and
// command values. Lidar points may be NaN ("no return"); the distance helpers skip them.
//
// The synthetic world, a deterministic function of the sequence numbers (so a test can know the
// answer): a rectangular room (walls at x = +-8 m, y = +-6 m around the robot) and one obstacle
// ahead whose distance follows a sine between 1 and 5 m (obstacle_for_scan(seq)). The camera sees a
// grey gradient crossed by a bright vertical bar that moves with the frame number.
//
// Sectors: the horizontal plane is cut into N equal sectors by bearing (atan2(y, x), x forward, y to
// the left); sector 0 is centred straight ahead and they go counter-clockwise, so with N = 4:
// 0 front, 1 left, 2 back, 3 right.
//
// Thread safety: free functions on values; none keeps state. Blocking: none.
// Errors: decode_* return Decoded<T> (value or an error message naming the message kind, the field
// and the sizes); encoders and helpers throw std::invalid_argument for arguments out of range
// (sector count 0, a buffer of the wrong size, more points than kMaxLidarPoints).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numbers>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace robot {

// ---------------------------------------------------------------------------------------------
// Decoding results.
// ---------------------------------------------------------------------------------------------

/// A decoded message, or the reason the bytes are not one.
template <class T>
class Decoded {
 public:
  static Decoded success(T value) { return Decoded(std::move(value), {}); }
  static Decoded failure(std::string error) { return Decoded(std::nullopt, std::move(error)); }

  [[nodiscard]] bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  /// Why decoding failed ("" when it succeeded).
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

  /// The value; throws std::logic_error with the decode error when there is none.
  T& value() {
    check();
    return *value_;
  }
  const T& value() const {
    check();
    return *value_;
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  Decoded(std::optional<T> value, std::string error) : value_(std::move(value)), error_(std::move(error)) {}
  void check() const {
    if (!value_) throw std::logic_error("robot::Decoded: no value (" + error_ + ")");
  }
  std::optional<T> value_;
  std::string error_;
};

// ---------------------------------------------------------------------------------------------
// Little-endian field access.
// ---------------------------------------------------------------------------------------------
namespace detail {

template <class T>
void store_little_endian(std::uint8_t* out, T value) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  std::array<std::uint8_t, sizeof(T)> bytes{};
  std::memcpy(bytes.data(), &value, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) std::reverse(bytes.begin(), bytes.end());
  std::memcpy(out, bytes.data(), sizeof(T));
}

template <class T>
T load_little_endian(const std::uint8_t* in) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  std::array<std::uint8_t, sizeof(T)> bytes{};
  std::memcpy(bytes.data(), in, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) std::reverse(bytes.begin(), bytes.end());
  T value;
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

/// Writes fields one after the other into a buffer whose size the caller computed.
class ByteWriter {
 public:
  explicit ByteWriter(std::span<std::uint8_t> out) noexcept : out_(out) {}
  template <class T>
  void put(T value) {
    reserve(sizeof(T));
    store_little_endian(out_.data() + position_, value);
    position_ += sizeof(T);
  }
  void put_bytes(std::span<const std::uint8_t> bytes) {
    reserve(bytes.size());
    if (!bytes.empty()) std::memcpy(out_.data() + position_, bytes.data(), bytes.size());
    position_ += bytes.size();
  }
  [[nodiscard]] std::size_t written() const noexcept { return position_; }

 private:
  void reserve(std::size_t size) const {
    if (size > out_.size() - position_) throw std::logic_error("robot::detail::ByteWriter: buffer too small");
  }
  std::span<std::uint8_t> out_;
  std::size_t position_ = 0;
};

/// Reads fields one after the other; the decoders check the total size before reading.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> in) noexcept : in_(in) {}
  template <class T>
  T get() {
    require(sizeof(T));
    const T value = load_little_endian<T>(in_.data() + position_);
    position_ += sizeof(T);
    return value;
  }
  std::span<const std::uint8_t> get_bytes(std::size_t size) {
    require(size);
    const auto bytes = in_.subspan(position_, size);
    position_ += size;
    return bytes;
  }

 private:
  void require(std::size_t size) const {
    if (size > in_.size() - position_) throw std::logic_error("robot::detail::ByteReader: read past the end");
  }
  std::span<const std::uint8_t> in_;
  std::size_t position_ = 0;
};

inline std::string tag_text(std::uint32_t tag) {
  std::string text;
  for (int i = 0; i < 4; ++i) {
    const auto c = static_cast<char>((tag >> (8 * i)) & 0xff);
    text += (c >= 0x20 && c < 0x7f) ? std::string(1, c) : "\\x" + std::to_string(static_cast<unsigned char>(c));
  }
  return text;
}

/// Checks the tag at the start of `bytes`; returns "" when it is `expected`, else the error.
inline std::string check_tag(std::span<const std::uint8_t> bytes, std::uint32_t expected, const char* kind) {
  if (bytes.size() < sizeof(std::uint32_t)) {
    return std::string(kind) + ": payload of " + std::to_string(bytes.size()) + " bytes has no 4-byte tag";
  }
  const auto tag = load_little_endian<std::uint32_t>(bytes.data());
  if (tag != expected) {
    return std::string(kind) + ": wrong tag '" + tag_text(tag) + "' (expected '" + tag_text(expected) +
           "'): this is not a " + kind + " message";
  }
  return {};
}

inline std::string size_error(const char* kind, std::size_t expected, std::size_t actual) {
  return std::string(kind) + ": expected " + std::to_string(expected) + " bytes, payload has " +
         std::to_string(actual);
}

/// Checks the tag and that `bytes` holds at least the `header_size`-byte header of a message whose
/// size depends on its header; returns "" when both hold, else the error.
inline std::string check_header(std::span<const std::uint8_t> bytes, std::uint32_t expected_tag, const char* kind,
                                std::size_t header_size) {
  if (auto error = check_tag(bytes, expected_tag, kind); !error.empty()) return error;
  if (bytes.size() < header_size) {
    return std::string(kind) + ": payload of " + std::to_string(bytes.size()) + " bytes is shorter than the " +
           std::to_string(header_size) + "-byte header";
  }
  return {};
}

/// For encode_into: throws std::invalid_argument unless the buffer has exactly `needed` bytes.
inline void require_buffer_size(const char* kind, std::size_t needed, std::size_t buffer_size) {
  if (buffer_size != needed) {
    throw std::invalid_argument("robot::encode_into: " + std::string(kind) + " needs " + std::to_string(needed) +
                                " bytes, buffer has " + std::to_string(buffer_size));
  }
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Message tags and limits.
// ---------------------------------------------------------------------------------------------

inline constexpr std::uint32_t kImuTag = 0x31554d49;      ///< "IMU1"
inline constexpr std::uint32_t kLidarTag = 0x3144494c;    ///< "LID1"
inline constexpr std::uint32_t kCameraTag = 0x314d4143;   ///< "CAM1"
inline constexpr std::uint32_t kCommandTag = 0x31444d43;  ///< "CMD1"

inline constexpr std::size_t kImuSampleSize = 4 + 8 + 8 + 6 * 4;
inline constexpr std::size_t kLidarHeaderSize = 4 + 8 + 4;
inline constexpr std::size_t kLidarPointSize = 3 * 4;
inline constexpr std::size_t kCameraHeaderSize = 4 + 8 + 4 + 4;
inline constexpr std::size_t kVelocityCommandSize = 4 + 8 + 4 + 4;

/// Most points a lidar scan may carry (12 MiB of coordinates).
inline constexpr std::uint32_t kMaxLidarPoints = 1u << 20;
/// Largest camera width or height.
inline constexpr std::uint32_t kMaxCameraSide = 4096;
/// Most sectors a scan may be split into.
inline constexpr std::size_t kMaxSectors = 360;
/// Distances beyond this (and "no return") count as this far in plan_velocity.
inline constexpr float kMaxRange = 30.0f;

inline constexpr std::size_t kDefaultLidarPoints = 4096;
inline constexpr std::uint32_t kDefaultCameraWidth = 160;
inline constexpr std::uint32_t kDefaultCameraHeight = 120;

// ---------------------------------------------------------------------------------------------
// IMU.
// ---------------------------------------------------------------------------------------------

struct ImuSample {
  std::int64_t seq = 0;
  std::int64_t t_ns = 0;                 ///< sensor time: seq x the IMU period
  std::array<float, 3> accel{};          ///< m/s^2, x forward, y left, z up
  std::array<float, 3> gyro{};           ///< rad/s
  friend bool operator==(const ImuSample&, const ImuSample&) = default;
};

inline std::vector<std::uint8_t> encode(const ImuSample& sample) {
  std::vector<std::uint8_t> bytes(kImuSampleSize);
  detail::ByteWriter writer(bytes);
  writer.put(kImuTag);
  writer.put(sample.seq);
  writer.put(sample.t_ns);
  for (const float value : sample.accel) writer.put(value);
  for (const float value : sample.gyro) writer.put(value);
  return bytes;
}

inline Decoded<ImuSample> decode_imu_sample(std::span<const std::uint8_t> bytes) {
  constexpr const char* kind = "IMU sample";
  if (auto error = detail::check_tag(bytes, kImuTag, kind); !error.empty()) return Decoded<ImuSample>::failure(error);
  if (bytes.size() != kImuSampleSize) {
    return Decoded<ImuSample>::failure(detail::size_error(kind, kImuSampleSize, bytes.size()));
  }
  detail::ByteReader reader(bytes);
  (void)reader.get<std::uint32_t>();
  ImuSample sample;
  sample.seq = reader.get<std::int64_t>();
  sample.t_ns = reader.get<std::int64_t>();
  for (float& value : sample.accel) value = reader.get<float>();
  for (float& value : sample.gyro) value = reader.get<float>();
  if (sample.seq < 0) return Decoded<ImuSample>::failure("IMU sample: negative seq " + std::to_string(sample.seq));
  for (const float value : sample.accel) {
    if (!std::isfinite(value)) return Decoded<ImuSample>::failure("IMU sample: non-finite acceleration");
  }
  for (const float value : sample.gyro) {
    if (!std::isfinite(value)) return Decoded<ImuSample>::failure("IMU sample: non-finite angular rate");
  }
  return Decoded<ImuSample>::success(sample);
}

// ---------------------------------------------------------------------------------------------
// Lidar.
// ---------------------------------------------------------------------------------------------

struct Point {
  float x = 0, y = 0, z = 0;  ///< metres, x forward, y left, z up
  friend bool operator==(const Point&, const Point&) = default;
};

struct LidarScan {
  std::int64_t seq = 0;
  std::vector<Point> points;
  friend bool operator==(const LidarScan&, const LidarScan&) = default;
};

inline std::size_t encoded_size(const LidarScan& scan) {
  if (scan.points.size() > kMaxLidarPoints) {
    throw std::invalid_argument("robot::encoded_size: lidar scan of " + std::to_string(scan.points.size()) +
                                " points exceeds kMaxLidarPoints (" + std::to_string(kMaxLidarPoints) + ")");
  }
  return kLidarHeaderSize + scan.points.size() * kLidarPointSize;
}

/// Writes the scan into `out`, which must be exactly encoded_size(scan) bytes (for send_with).
inline void encode_into(const LidarScan& scan, std::span<std::uint8_t> out) {
  detail::require_buffer_size("lidar scan", encoded_size(scan), out.size());
  detail::ByteWriter writer(out);
  writer.put(kLidarTag);
  writer.put(scan.seq);
  writer.put(static_cast<std::uint32_t>(scan.points.size()));
  for (const Point& point : scan.points) {
    writer.put(point.x);
    writer.put(point.y);
    writer.put(point.z);
  }
}

inline Decoded<LidarScan> decode_lidar_scan(std::span<const std::uint8_t> bytes) {
  constexpr const char* kind = "lidar scan";
  if (auto error = detail::check_header(bytes, kLidarTag, kind, kLidarHeaderSize); !error.empty()) {
    return Decoded<LidarScan>::failure(std::move(error));
  }
  detail::ByteReader reader(bytes);
  (void)reader.get<std::uint32_t>();
  LidarScan scan;
  scan.seq = reader.get<std::int64_t>();
  const auto count = reader.get<std::uint32_t>();
  if (scan.seq < 0) return Decoded<LidarScan>::failure("lidar scan: negative seq " + std::to_string(scan.seq));
  if (count > kMaxLidarPoints) {
    return Decoded<LidarScan>::failure("lidar scan: point_count " + std::to_string(count) + " exceeds the limit " +
                                       std::to_string(kMaxLidarPoints));
  }
  const std::size_t expected = kLidarHeaderSize + std::size_t{count} * kLidarPointSize;
  if (bytes.size() != expected) {
    return Decoded<LidarScan>::failure(detail::size_error("lidar scan", expected, bytes.size()) + " (point_count " +
                                       std::to_string(count) + ")");
  }
  scan.points.resize(count);
  for (Point& point : scan.points) {
    point.x = reader.get<float>();
    point.y = reader.get<float>();
    point.z = reader.get<float>();
  }
  return Decoded<LidarScan>::success(std::move(scan));
}

// ---------------------------------------------------------------------------------------------
// Camera.
// ---------------------------------------------------------------------------------------------

struct CameraFrame {
  std::int64_t seq = 0;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::vector<std::uint8_t> pixels;  ///< width * height grey levels, row-major
  friend bool operator==(const CameraFrame&, const CameraFrame&) = default;
};

inline std::size_t encoded_size(const CameraFrame& frame) {
  if (frame.width > kMaxCameraSide || frame.height > kMaxCameraSide) {
    throw std::invalid_argument("robot::encoded_size: camera frame " + std::to_string(frame.width) + "x" +
                                std::to_string(frame.height) + " exceeds kMaxCameraSide (" +
                                std::to_string(kMaxCameraSide) + ")");
  }
  const std::size_t pixels = std::size_t{frame.width} * frame.height;
  if (frame.pixels.size() != pixels) {
    throw std::invalid_argument("robot::encoded_size: camera frame " + std::to_string(frame.width) + "x" +
                                std::to_string(frame.height) + " has " + std::to_string(frame.pixels.size()) +
                                " pixels");
  }
  return kCameraHeaderSize + pixels;
}

/// Writes the frame into `out`, which must be exactly encoded_size(frame) bytes (for send_with).
inline void encode_into(const CameraFrame& frame, std::span<std::uint8_t> out) {
  detail::require_buffer_size("camera frame", encoded_size(frame), out.size());
  detail::ByteWriter writer(out);
  writer.put(kCameraTag);
  writer.put(frame.seq);
  writer.put(frame.width);
  writer.put(frame.height);
  writer.put_bytes(frame.pixels);
}

/// The bytes of a message that is written in place (LidarScan, CameraFrame): encode_into() on a new
/// buffer of encoded_size() bytes. (send_with() calls encode_into() on the shared memory directly.)
template <class Message>
  requires requires(const Message& message, std::span<std::uint8_t> out) {
    { encoded_size(message) } -> std::convertible_to<std::size_t>;
    encode_into(message, out);
  }
std::vector<std::uint8_t> encode(const Message& message) {
  std::vector<std::uint8_t> bytes(encoded_size(message));
  encode_into(message, bytes);
  return bytes;
}

inline Decoded<CameraFrame> decode_camera_frame(std::span<const std::uint8_t> bytes) {
  constexpr const char* kind = "camera frame";
  if (auto error = detail::check_header(bytes, kCameraTag, kind, kCameraHeaderSize); !error.empty()) {
    return Decoded<CameraFrame>::failure(std::move(error));
  }
  detail::ByteReader reader(bytes);
  (void)reader.get<std::uint32_t>();
  CameraFrame frame;
  frame.seq = reader.get<std::int64_t>();
  frame.width = reader.get<std::uint32_t>();
  frame.height = reader.get<std::uint32_t>();
  if (frame.seq < 0) return Decoded<CameraFrame>::failure("camera frame: negative seq " + std::to_string(frame.seq));
  if (frame.width > kMaxCameraSide || frame.height > kMaxCameraSide) {
    return Decoded<CameraFrame>::failure("camera frame: " + std::to_string(frame.width) + "x" +
                                         std::to_string(frame.height) + " exceeds the limit of " +
                                         std::to_string(kMaxCameraSide) + " pixels per side");
  }
  const std::size_t expected = kCameraHeaderSize + std::size_t{frame.width} * frame.height;
  if (bytes.size() != expected) {
    return Decoded<CameraFrame>::failure(detail::size_error(kind, expected, bytes.size()) + " (" +
                                         std::to_string(frame.width) + "x" + std::to_string(frame.height) + ")");
  }
  const auto pixels = reader.get_bytes(std::size_t{frame.width} * frame.height);
  frame.pixels.assign(pixels.begin(), pixels.end());
  return Decoded<CameraFrame>::success(std::move(frame));
}

// ---------------------------------------------------------------------------------------------
// Velocity command.
// ---------------------------------------------------------------------------------------------

struct VelocityCommand {
  std::int64_t frame = 0;  ///< the lidar seq the command was computed from
  float linear = 0;        ///< forward speed, m/s
  float angular = 0;       ///< yaw rate, rad/s, positive = turn left
  friend bool operator==(const VelocityCommand&, const VelocityCommand&) = default;
};

inline std::vector<std::uint8_t> encode(const VelocityCommand& command) {
  std::vector<std::uint8_t> bytes(kVelocityCommandSize);
  detail::ByteWriter writer(bytes);
  writer.put(kCommandTag);
  writer.put(command.frame);
  writer.put(command.linear);
  writer.put(command.angular);
  return bytes;
}

inline Decoded<VelocityCommand> decode_velocity_command(std::span<const std::uint8_t> bytes) {
  constexpr const char* kind = "velocity command";
  if (auto error = detail::check_tag(bytes, kCommandTag, kind); !error.empty()) {
    return Decoded<VelocityCommand>::failure(error);
  }
  if (bytes.size() != kVelocityCommandSize) {
    return Decoded<VelocityCommand>::failure(detail::size_error(kind, kVelocityCommandSize, bytes.size()));
  }
  detail::ByteReader reader(bytes);
  (void)reader.get<std::uint32_t>();
  VelocityCommand command;
  command.frame = reader.get<std::int64_t>();
  command.linear = reader.get<float>();
  command.angular = reader.get<float>();
  if (command.frame < 0) {
    return Decoded<VelocityCommand>::failure("velocity command: negative frame " + std::to_string(command.frame));
  }
  if (!std::isfinite(command.linear) || !std::isfinite(command.angular)) {
    return Decoded<VelocityCommand>::failure("velocity command: non-finite speed");
  }
  return Decoded<VelocityCommand>::success(command);
}

// ---------------------------------------------------------------------------------------------
// Geometry: bearings, sectors, nearest obstacle.
// ---------------------------------------------------------------------------------------------

/// The angle brought into [-pi, pi).
inline double wrap_angle(double radians) noexcept {
  constexpr double two_pi = 2 * std::numbers::pi;
  double wrapped = std::fmod(radians + std::numbers::pi, two_pi);
  if (wrapped < 0) wrapped += two_pi;
  return wrapped - std::numbers::pi;
}

inline void check_sector_count(std::size_t sectors, const char* where) {
  if (sectors == 0 || sectors > kMaxSectors) {
    throw std::invalid_argument(std::string(where) + ": sector count must be 1.." + std::to_string(kMaxSectors) +
                                ", got " + std::to_string(sectors));
  }
}

/// The sector (0..sectors-1) holding a bearing; sector 0 is centred straight ahead, counter-clockwise.
inline std::size_t sector_of_bearing(double bearing, std::size_t sectors) {
  check_sector_count(sectors, "robot::sector_of_bearing");
  const double width = 2 * std::numbers::pi / static_cast<double>(sectors);
  double shifted = std::fmod(bearing + width / 2, 2 * std::numbers::pi);
  if (shifted < 0) shifted += 2 * std::numbers::pi;
  const auto sector = static_cast<std::size_t>(shifted / width);
  return std::min(sector, sectors - 1);  // shifted == 2*pi after rounding
}

inline std::size_t sector_of(const Point& point, std::size_t sectors) {
  return sector_of_bearing(std::atan2(static_cast<double>(point.y), static_cast<double>(point.x)), sectors);
}

/// Horizontal distance from the robot.
inline float horizontal_range(const Point& point) noexcept { return std::hypot(point.x, point.y); }

/// The scan's points grouped by sector (sectors x vector), e.g. one part per worker. Points with a
/// NaN coordinate are kept (in whatever sector atan2 puts them); the distance helpers skip them.
inline std::vector<std::vector<Point>> split_into_sectors(std::span<const Point> points, std::size_t sectors) {
  check_sector_count(sectors, "robot::split_into_sectors");
  std::vector<std::vector<Point>> parts(sectors);
  for (auto& part : parts) part.reserve(points.size() / sectors + 1);
  for (const Point& point : points) parts[sector_of(point, sectors)].push_back(point);
  return parts;
}

/// The smallest horizontal range among `points`; +infinity when none is finite ("no obstacle").
inline float nearest_distance(std::span<const Point> points) noexcept {
  float nearest = std::numeric_limits<float>::infinity();
  for (const Point& point : points) {
    const float range = horizontal_range(point);
    if (std::isfinite(range)) nearest = std::min(nearest, range);
  }
  return nearest;
}

/// nearest_distance of the points of the scan that fall in `sector` (no copy).
inline float nearest_in_sector(std::span<const Point> points, std::size_t sector, std::size_t sectors) {
  check_sector_count(sectors, "robot::nearest_in_sector");
  if (sector >= sectors) {
    throw std::invalid_argument("robot::nearest_in_sector: sector " + std::to_string(sector) + " of " +
                                std::to_string(sectors));
  }
  float nearest = std::numeric_limits<float>::infinity();
  for (const Point& point : points) {
    const float range = horizontal_range(point);
    if (std::isfinite(range) && sector_of(point, sectors) == sector) nearest = std::min(nearest, range);
  }
  return nearest;
}

/// nearest_distance for every sector at once.
inline std::vector<float> nearest_per_sector(std::span<const Point> points, std::size_t sectors) {
  check_sector_count(sectors, "robot::nearest_per_sector");
  std::vector<float> nearest(sectors, std::numeric_limits<float>::infinity());
  for (const Point& point : points) {
    const float range = horizontal_range(point);
    if (!std::isfinite(range)) continue;
    float& slot = nearest[sector_of(point, sectors)];
    slot = std::min(slot, range);
  }
  return nearest;
}

// ---------------------------------------------------------------------------------------------
// Camera features.
// ---------------------------------------------------------------------------------------------

struct CameraFeatures {
  double mean_brightness = 0;  ///< 0..255
  std::int64_t edge_count = 0; ///< horizontal neighbours differing by more than kEdgeThreshold
  friend bool operator==(const CameraFeatures&, const CameraFeatures&) = default;
};

inline constexpr int kEdgeThreshold = 60;

/// Mean brightness and edge count of a frame (only the width*height pixels that exist are read).
inline CameraFeatures camera_features(const CameraFrame& frame) noexcept {
  CameraFeatures features;
  const std::size_t width = frame.width;
  const std::size_t rows = width == 0 ? 0 : std::min<std::size_t>(frame.height, frame.pixels.size() / width);
  if (rows == 0) return features;
  std::uint64_t sum = 0;
  for (std::size_t y = 0; y < rows; ++y) {
    const std::uint8_t* row = frame.pixels.data() + y * width;
    for (std::size_t x = 0; x < width; ++x) {
      sum += row[x];
      if (x + 1 < width && std::abs(int{row[x + 1]} - int{row[x]}) > kEdgeThreshold) ++features.edge_count;
    }
  }
  features.mean_brightness = static_cast<double>(sum) / static_cast<double>(rows * width);
  return features;
}

// ---------------------------------------------------------------------------------------------
// Planning: from sector distances (and optionally camera features) to a velocity command.
// ---------------------------------------------------------------------------------------------

/// A simple, deterministic planner: forward speed grows with the free distance ahead (stop closer
/// than 1 m, 1 m/s from 3.5 m), turn towards the side with more room (needs >= 3 sectors), half speed
/// when the camera sees a dark image (mean brightness < 20). Infinite distances count as kMaxRange.
inline VelocityCommand plan_velocity(std::int64_t frame, std::span<const float> nearest_by_sector,
                                     const std::optional<CameraFeatures>& camera = std::nullopt) {
  check_sector_count(nearest_by_sector.size(), "robot::plan_velocity");
  const std::size_t sectors = nearest_by_sector.size();
  const auto distance = [&](std::size_t sector) {
    const float value = nearest_by_sector[sector];
    return std::isfinite(value) ? std::min(value, kMaxRange) : kMaxRange;
  };
  VelocityCommand command;
  command.frame = frame;
  command.linear = std::clamp(0.4f * (distance(0) - 1.0f), 0.0f, 1.0f);
  if (camera && camera->mean_brightness < 20) command.linear *= 0.5f;
  if (sectors >= 3) {
    const float left = distance(sector_of_bearing(std::numbers::pi / 2, sectors));
    const float right = distance(sector_of_bearing(-std::numbers::pi / 2, sectors));
    command.angular = std::clamp(0.5f * (left - right) / std::max({left, right, 0.1f}), -1.0f, 1.0f);
  }
  return command;
}

// ---------------------------------------------------------------------------------------------
// The synthetic world (deterministic functions of seq).
// ---------------------------------------------------------------------------------------------

/// The obstacle the lidar sees in scan `seq`: ahead (|bearing| <= 0.5 rad), 1..5 m away.
struct Obstacle {
  double bearing = 0;     ///< radians, 0 = straight ahead
  double distance = 0;    ///< metres
  double half_width = 0;  ///< radians: points within bearing +- half_width hit the obstacle
};

/// The sine the obstacle follows: distance period 60 scans (6 s at 10 Hz), bearing period 90 scans.
inline Obstacle obstacle_for_scan(std::int64_t seq) noexcept {
  const double s = static_cast<double>(seq);
  return Obstacle{.bearing = 0.5 * std::sin(2 * std::numbers::pi * s / 90.0),
                  .distance = 3.0 + 2.0 * std::sin(2 * std::numbers::pi * s / 60.0),
                  .half_width = 0.12};
}

/// Distance to the room's walls (x = +-8 m, y = +-6 m) along a bearing.
inline double wall_range(double bearing) noexcept {
  const double c = std::abs(std::cos(bearing));
  const double s = std::abs(std::sin(bearing));
  const double to_x = c > 1e-9 ? 8.0 / c : std::numeric_limits<double>::infinity();
  const double to_y = s > 1e-9 ? 6.0 / s : std::numeric_limits<double>::infinity();
  return std::min(to_x, to_y);
}

/// Sample `seq` of an IMU sampled every `period_ns`: a gentle sway plus gravity, a slow yaw.
inline ImuSample make_imu_sample(std::int64_t seq, std::int64_t period_ns = 10'000'000) noexcept {
  const double s = static_cast<double>(seq);
  ImuSample sample;
  sample.seq = seq;
  sample.t_ns = seq * period_ns;
  sample.accel = {static_cast<float>(0.2 * std::sin(0.05 * s)), static_cast<float>(0.1 * std::cos(0.05 * s)), 9.81f};
  sample.gyro = {0.0f, 0.0f, static_cast<float>(0.3 * std::sin(0.02 * s))};
  return sample;
}

/// Scan `seq`: `point_count` points on 4 rings, evenly spread in bearing; the walls of the room,
/// except where the obstacle of obstacle_for_scan(seq) is.
inline LidarScan make_lidar_scan(std::int64_t seq, std::size_t point_count = kDefaultLidarPoints) {
  if (point_count > kMaxLidarPoints) {
    throw std::invalid_argument("robot::make_lidar_scan: " + std::to_string(point_count) +
                                " points exceed kMaxLidarPoints (" + std::to_string(kMaxLidarPoints) + ")");
  }
  constexpr std::size_t rings = 4;
  const std::size_t azimuths = (point_count + rings - 1) / rings;
  const Obstacle obstacle = obstacle_for_scan(seq);
  LidarScan scan;
  scan.seq = seq;
  scan.points.resize(point_count);
  for (std::size_t i = 0; i < point_count; ++i) {
    const std::size_t ring = i % rings;
    const std::size_t azimuth = i / rings;
    const double bearing =
        -std::numbers::pi + 2 * std::numbers::pi * (static_cast<double>(azimuth) + 0.5) / static_cast<double>(azimuths);
    const bool hits_obstacle = std::abs(wrap_angle(bearing - obstacle.bearing)) <= obstacle.half_width;
    const double range = hits_obstacle ? obstacle.distance : wall_range(bearing);
    scan.points[i] = Point{static_cast<float>(range * std::cos(bearing)), static_cast<float>(range * std::sin(bearing)),
                           static_cast<float>(-0.3 + 0.2 * static_cast<double>(ring))};
  }
  return scan;
}

/// Frame `seq`: a grey gradient (40..140) crossed by an 8-pixel bright bar (250) at column
/// (4 * seq) mod width.
inline CameraFrame make_camera_frame(std::int64_t seq, std::uint32_t width = kDefaultCameraWidth,
                                     std::uint32_t height = kDefaultCameraHeight) {
  if (width == 0 || height == 0 || width > kMaxCameraSide || height > kMaxCameraSide) {
    throw std::invalid_argument("robot::make_camera_frame: size " + std::to_string(width) + "x" +
                                std::to_string(height) + " must be 1.." + std::to_string(kMaxCameraSide) +
                                " per side");
  }
  CameraFrame frame;
  frame.seq = seq;
  frame.width = width;
  frame.height = height;
  frame.pixels.resize(std::size_t{width} * height);
  const std::uint64_t bar = (4 * static_cast<std::uint64_t>(seq < 0 ? 0 : seq)) % width;
  for (std::uint32_t y = 0; y < height; ++y) {
    for (std::uint32_t x = 0; x < width; ++x) {
      const bool on_bar = x >= bar && x < bar + 8;
      frame.pixels[std::size_t{y} * width + x] =
          on_bar ? 250 : static_cast<std::uint8_t>(40 + (60 * x) / width + (40 * y) / height);
    }
  }
  return frame;
}

}  // namespace robot
