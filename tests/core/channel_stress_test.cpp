// Stress tests of dcp channels: many producers and consumers, millions of messages, random closes.
// Every message is accounted for exactly once (a per-value "seen" counter plus per-producer order
// checks). Sizes are divided by DCP_STRESS_DIVISOR under the sanitizers.
#include "dcp/core/channel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr int kProducerShift = 40;
std::uint64_t encode(std::uint64_t producer, std::uint64_t seq) { return (producer << kProducerShift) | seq; }
std::uint64_t producer_of(std::uint64_t v) { return v >> kProducerShift; }
std::uint64_t seq_of(std::uint64_t v) { return v & ((std::uint64_t{1} << kProducerShift) - 1); }

struct Shape {
  std::string name;
  std::size_t capacity;  // 0 = unbounded
  int producers;
  int consumers;
  std::uint64_t per_producer;
};

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.name; }

class ChannelStress : public ::testing::TestWithParam<Shape> {};

TEST_P(ChannelStress, ManyProducersAndConsumers_EveryMessageReceivedExactlyOnceInProducerOrder) {
  const Shape shape = GetParam();
  auto [tx, rx] = shape.capacity == 0 ? dcp::unbounded<std::uint64_t>() : dcp::bounded<std::uint64_t>(shape.capacity);
  const std::uint64_t per_producer = shape.per_producer / DCP_STRESS_DIVISOR;
  std::vector<std::atomic<std::uint8_t>> seen(shape.producers * per_producer);
  std::atomic<std::uint64_t> received_sum{0};

  std::vector<std::thread> consumers;
  for (int c = 0; c < shape.consumers; ++c) {
    consumers.emplace_back([&, rx = rx, producers = shape.producers]() mutable {
      // A consumer sees each producer's messages in increasing order (the queue is FIFO).
      std::vector<std::int64_t> last(producers, -1);
      std::uint64_t sum = 0;
      for (std::uint64_t v : rx) {
        const auto p = producer_of(v);
        const auto s = static_cast<std::int64_t>(seq_of(v));
        ASSERT_LT(p, static_cast<std::uint64_t>(producers));
        ASSERT_GT(s, last[p]) << "producer " << p << " out of order";
        last[p] = s;
        seen[p * per_producer + seq_of(v)].fetch_add(1, std::memory_order_relaxed);
        sum += v;
      }
      received_sum.fetch_add(sum);
    });
  }
  { auto consumers_only = std::move(rx); }

  std::vector<std::thread> producers;
  std::uint64_t expected_sum = 0;
  for (int p = 0; p < shape.producers; ++p) {
    for (std::uint64_t s = 0; s < per_producer; ++s) expected_sum += encode(p, s);
    producers.emplace_back([tx = tx, p, per_producer]() mutable {
      for (std::uint64_t s = 0; s < per_producer; ++s) ASSERT_TRUE(tx.send(encode(p, s)).ok());
    });
  }
  { auto producers_only = std::move(tx); }  // the channel closes when the last producer finishes
  for (auto& t : producers) t.join();
  for (auto& t : consumers) t.join();

  EXPECT_EQ(received_sum.load(), expected_sum);
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << "message " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ChannelStress,
    ::testing::Values(Shape{"Bounded1_4x3", 1, 4, 3, 100'000}, Shape{"Bounded7_4x3", 7, 4, 3, 250'000},
                      Shape{"Bounded1024_4x1", 1024, 4, 1, 500'000}, Shape{"Bounded1024_2x2", 1024, 2, 2, 500'000},
                      Shape{"Unbounded_4x1", 0, 4, 1, 500'000}, Shape{"Unbounded_4x3", 0, 4, 3, 250'000}),
    [](const auto& info) { return info.param.name; });

// Producers send until the channel closes under them; a third party closes it at a random point.
// Every value a producer was told "sent" is received exactly once; every value handed back as
// "closed" is never received.
TEST(ChannelStressClose, RandomCloseWhileSending_SentValuesReceivedOnceAndRefusedValuesReturned) {
  const int rounds = 40 / DCP_STRESS_DIVISOR + 2;
  std::mt19937 rng(12345);
  for (int round = 0; round < rounds; ++round) {
    const bool bounded = round % 2 == 0;
    auto [tx, rx] = bounded ? dcp::bounded<std::uint64_t>(1 + rng() % 16) : dcp::unbounded<std::uint64_t>();
    constexpr int kProducers = 3;
    constexpr std::uint64_t kMaxPerProducer = 20'000;
    const std::uint64_t close_after = rng() % 20'000;

    std::vector<std::vector<std::uint8_t>> sent(kProducers, std::vector<std::uint8_t>(kMaxPerProducer, 0));
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&sent, tx = tx, p]() mutable {
        for (std::uint64_t s = 0; s < kMaxPerProducer; ++s) {
          auto r = tx.send(encode(p, s));
          if (r.status() == dcp::SendStatus::closed) {
            ASSERT_EQ(r.value(), encode(p, s)) << "the refused value must be handed back intact";
            return;
          }
          ASSERT_TRUE(r.ok());
          sent[p][s] = 1;
        }
      });
    }
    { auto producers_only = std::move(tx); }

    std::vector<std::vector<std::uint8_t>> received(kProducers, std::vector<std::uint8_t>(kMaxPerProducer, 0));
    std::uint64_t count = 0;
    for (;;) {
      auto r = rx.recv();
      if (r.is_closed()) break;
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(received[producer_of(*r)][seq_of(*r)]++, 0) << "received twice";
      if (++count == close_after) rx.close();  // producers are refused from now on; we drain the rest
    }
    for (auto& t : producers) t.join();
    for (int p = 0; p < kProducers; ++p) {
      for (std::uint64_t s = 0; s < kMaxPerProducer; ++s) {
        ASSERT_EQ(sent[p][s], received[p][s]) << "round " << round << " producer " << p << " seq " << s;
      }
    }
  }
}

// Senders blocked on a full channel when the last receiver goes: all wake up with their value.
TEST(ChannelStressClose, ReceiversGoneWhileSendersBlocked_EverySenderGetsItsValueBack) {
  for (int round = 0; round < 20; ++round) {
    auto [tx, rx] = dcp::bounded<std::uint64_t>(2);
    constexpr int kProducers = 4;
    std::atomic<std::uint64_t> sent_ok{0}, refused{0};
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&, tx = tx, p]() mutable {
        for (std::uint64_t s = 0;; ++s) {
          auto r = tx.send(encode(p, s));
          if (r.is_closed()) {
            ASSERT_EQ(r.value(), encode(p, s));
            refused++;
            return;
          }
          sent_ok++;
        }
      });
    }
    std::uint64_t received = 0;
    for (int i = 0; i < 1000; ++i) received += rx.recv().ok() ? 1 : 0;
    { auto gone = std::move(rx); }
    for (auto& t : producers) t.join();
    EXPECT_EQ(refused.load(), static_cast<std::uint64_t>(kProducers));
    // Whatever was sent and not received is still queued (at most the capacity).
    EXPECT_LE(sent_ok.load() - received, 2u);
    EXPECT_EQ(received, 1000u);
  }
}

TEST(ChannelStressPolicy, DropOldestUnderContention_ReceivedPlusDroppedEqualsSent) {
  auto [tx, rx] = dcp::bounded<std::uint64_t>(8, dcp::Overflow::drop_oldest);
  constexpr int kProducers = 4;
  const std::uint64_t per_producer = 200'000 / DCP_STRESS_DIVISOR;
  std::uint64_t received = 0;
  std::thread consumer([&received, rx = rx]() mutable {
    std::vector<std::int64_t> last(kProducers, -1);
    for (std::uint64_t v : rx) {
      const auto s = static_cast<std::int64_t>(seq_of(v));
      ASSERT_GT(s, last[producer_of(v)]);
      last[producer_of(v)] = s;
      ++received;
    }
  });
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([tx = tx, p, per_producer]() mutable {
      for (std::uint64_t s = 0; s < per_producer; ++s) ASSERT_EQ(tx.send(encode(p, s)).status(), dcp::SendStatus::sent);
    });
  }
  for (auto& t : producers) t.join();
  const auto dropped_before_close = tx.dropped();
  { auto gone = std::move(tx); }
  consumer.join();
  EXPECT_EQ(rx.dropped(), dropped_before_close);
  EXPECT_EQ(received + rx.dropped(), kProducers * per_producer);
}

TEST(ChannelStressTimeouts, ConsumersPollingWithShortTimeouts_LoseNothing) {
  auto [tx, rx] = dcp::unbounded<std::uint64_t>();
  const std::uint64_t total = 100'000 / DCP_STRESS_DIVISOR;
  std::vector<std::atomic<std::uint8_t>> seen(total);
  std::vector<std::thread> consumers;
  std::atomic<std::uint64_t> timeouts{0};
  for (int c = 0; c < 2; ++c) {
    consumers.emplace_back([&, rx = rx]() mutable {
      for (;;) {
        auto r = rx.recv_for(50us);
        if (r.is_closed()) return;
        if (r.is_timeout()) {
          timeouts++;
          continue;
        }
        seen[*r].fetch_add(1);
      }
    });
  }
  { auto consumers_only = std::move(rx); }
  for (std::uint64_t i = 0; i < total; ++i) {
    ASSERT_TRUE(tx.send(i).ok());
    if (i % 1000 == 0) std::this_thread::yield();  // let consumers run dry and time out sometimes
  }
  { auto gone = std::move(tx); }
  for (auto& t : consumers) t.join();
  for (std::uint64_t i = 0; i < total; ++i) ASSERT_EQ(seen[i].load(), 1) << i;
}

}  // namespace
