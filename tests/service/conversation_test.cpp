// Conversations held in-process: the coroutine client library against a server on the same
// event loop, over real loopback sockets.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "client/sources.hpp"
#include "protocol/errc.hpp"
#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "service/server.hpp"
#include "service/sink.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::service {
namespace {

using protocol::reply_kind;

struct transcript {
  std::vector<reply_kind> kinds;
  runtime::result<client::conversation_result> outcome{std::errc::operation_in_progress};
};

// Runs one server and the given clients to completion, then shuts the server down.
struct harness {
  config settings;
  std::unique_ptr<sink> lines;
  std::unique_ptr<server> running;

  explicit harness(config base, const std::string& sink_spec = "none") : settings(std::move(base)) {
    settings.port = 0;
    settings.log_connections = false;
    auto opened = sink::open(sink_spec);
    EXPECT_TRUE(opened) << opened.error().message();
    lines = std::move(*opened);
    running = std::make_unique<server>(settings, *lines);
    auto listening = running->listen();
    EXPECT_TRUE(listening) << listening.error().message();
  }

  client::client_options client_options() const {
    client::client_options options;
    options.host = running->local_address().host();
    options.port = running->local_address().port();
    options.greeting = settings.greeting;
    options.ack = settings.ack;
    return options;
  }
};

config default_config() {
  config settings;
  settings.greeting = protocol::default_greeting;
  settings.ack = protocol::default_ack;
  return settings;
}

// Counts finished clients down to zero and wakes the one coroutine waiting for that.
struct countdown {
  std::size_t remaining = 0;
  runtime::event done;
  void arrive() {
    if (--remaining == 0) {
      done.set();
    }
  }
};

runtime::task<void> talk(client::client_options options, std::vector<std::string> messages,
                         transcript* out, countdown* finished = nullptr) {
  client::vector_source source(std::move(messages));
  out->outcome = co_await client::converse(
      options, source,
      [out](const protocol::reply& reply) {
        if (reply.kind != reply_kind::need_more) {
          out->kinds.push_back(reply.kind);
        }
      },
      nullptr);
  if (finished != nullptr) {
    finished->arrive();
  }
}

runtime::task<void> run_clients(harness* h, std::vector<std::vector<std::string>> per_client,
                                std::vector<transcript>* transcripts) {
  auto& loop = runtime::event_loop::current();
  loop.spawn(h->lines->run());
  loop.spawn(h->running->run());
  transcripts->resize(per_client.size());
  countdown clients{.remaining = per_client.size(), .done = {}};
  for (std::size_t i = 0; i < per_client.size(); ++i) {
    loop.spawn(talk(h->client_options(), std::move(per_client[i]), &(*transcripts)[i], &clients));
  }
  co_await clients.done;
  h->running->stop();
  co_await h->running->wait_for_sessions();
  h->lines->stop();
  co_await loop.wait_for_spawned();
}

TEST(conversation_test, client_receives_greeting_and_one_ack_per_line) {
  runtime::event_loop loop;
  harness h(default_config());
  std::vector<transcript> transcripts;
  loop.run(run_clients(&h, {{"one", "", "three"}}, &transcripts));
  ASSERT_EQ(transcripts.size(), 1U);
  ASSERT_TRUE(transcripts[0].outcome) << transcripts[0].outcome.error().message();
  EXPECT_EQ(transcripts[0].outcome->sent, 3U);
  EXPECT_EQ(transcripts[0].outcome->acked, 3U);
  EXPECT_EQ(transcripts[0].kinds, (std::vector<reply_kind>{reply_kind::greeting, reply_kind::ack,
                                                           reply_kind::ack, reply_kind::ack}));
  EXPECT_EQ(h.running->counters().lines, 3U);
}

TEST(conversation_test, lines_reach_the_file_sink_in_order_before_their_acks) {
  test_support::temp_dir dir;
  const auto path = dir.file("lines.log");
  runtime::event_loop loop;
  harness h(default_config(), path.string());
  std::vector<std::string> messages;
  for (int i = 0; i < 500; ++i) {
    messages.push_back("line " + std::to_string(i));
  }
  std::vector<transcript> transcripts;
  loop.run(run_clients(&h, {messages}, &transcripts));
  ASSERT_TRUE(transcripts[0].outcome);
  EXPECT_EQ(transcripts[0].outcome->acked, 500U);
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  std::string expected;
  for (const auto& message : messages) {
    expected += message + "\n";
  }
  EXPECT_EQ(content.str(), expected);
}

TEST(conversation_test, many_clients_pipeline_concurrently) {
  runtime::event_loop loop;
  harness h(default_config());
  std::vector<std::vector<std::string>> per_client(50, std::vector<std::string>(100, "payload"));
  std::vector<transcript> transcripts;
  loop.run(run_clients(&h, per_client, &transcripts));
  for (const auto& each : transcripts) {
    ASSERT_TRUE(each.outcome) << each.outcome.error().message();
    EXPECT_EQ(each.outcome->acked, 100U);
  }
  EXPECT_EQ(h.running->counters().accepted, 50U);
  EXPECT_EQ(h.running->counters().lines, 5000U);
}

TEST(conversation_test, custom_greeting_and_ack_are_spoken_and_understood) {
  runtime::event_loop loop;
  auto settings = default_config();
  settings.greeting = "hello there";
  settings.ack = "ok";
  harness h(settings);
  std::vector<transcript> transcripts;
  loop.run(run_clients(&h, {{"a", "b"}}, &transcripts));
  ASSERT_TRUE(transcripts[0].outcome) << transcripts[0].outcome.error().message();
  EXPECT_EQ(transcripts[0].outcome->acked, 2U);
}

runtime::task<void> talk_with_wrong_ack(harness* h, transcript* out) {
  auto& loop = runtime::event_loop::current();
  loop.spawn(h->lines->run());
  loop.spawn(h->running->run());
  auto options = h->client_options();
  options.ack = "something else";
  // A named vector: GCC 12 fails on an initializer list temporary inside co_await.
  std::vector<std::string> messages(1, "x");
  co_await talk(options, std::move(messages), out);
  h->running->stop();
  co_await h->running->wait_for_sessions();
  h->lines->stop();
  co_await loop.wait_for_spawned();
}

TEST(conversation_test, client_expecting_other_texts_reports_unexpected_reply) {
  runtime::event_loop loop;
  harness h(default_config());
  transcript result;
  loop.run(talk_with_wrong_ack(&h, &result));
  ASSERT_FALSE(result.outcome);
  EXPECT_EQ(result.outcome.error(), protocol::errc::unexpected_reply);
}

// A client whose input never ends until the test closes its pipe: it holds a session open.
runtime::task<void> hold_open(client::client_options options, client::line_source* source,
                              transcript* out, runtime::event* on_greeting, countdown* finished) {
  out->outcome = co_await client::converse(
      options, *source,
      [out, on_greeting](const protocol::reply& r) {
        if (r.kind != reply_kind::need_more) {
          out->kinds.push_back(r.kind);
        }
        if (r.kind == reply_kind::greeting) {
          on_greeting->set();
        }
      },
      nullptr);
  finished->arrive();
}

runtime::task<void> fill_then_knock(harness* hh, transcript* second) {
  auto& current = runtime::event_loop::current();
  current.spawn(hh->lines->run());
  current.spawn(hh->running->run());
  // The first client holds its session open by never finishing its input: a source that
  // blocks on a pipe nobody writes to.
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  runtime::unique_fd read_end(fds[0]);
  runtime::unique_fd write_end(fds[1]);
  transcript first;
  runtime::event greeted;
  countdown first_done{.remaining = 1, .done = {}};
  client::fd_source blocked(read_end.get());
  current.spawn(hold_open(hh->client_options(), &blocked, &first, &greeted, &first_done));
  co_await greeted;  // the first session is active now
  std::vector<std::string> messages(1, "x");
  co_await talk(hh->client_options(), std::move(messages), second);
  write_end.reset();  // the first client's input ends; it finishes normally
  co_await first_done.done;
  EXPECT_TRUE(first.outcome) << first.outcome.error().message();
  co_await hh->running->wait_for_sessions();
  hh->running->stop();
  hh->lines->stop();
  co_await current.wait_for_spawned();
}

TEST(conversation_test, full_server_answers_not_connect) {
  runtime::event_loop loop;
  auto settings = default_config();
  settings.max_connections = 1;
  harness h(settings);
  transcript second;
  loop.run(fill_then_knock(&h, &second));
  ASSERT_FALSE(second.outcome);
  EXPECT_EQ(second.outcome.error(), protocol::errc::server_full);
  EXPECT_EQ(h.running->counters().refused, 1U);
}

}  // namespace
}  // namespace ringline::service
