// The hotel's room service: a tiny HTTP server that answers GET /room with its instance ID,
// and registers itself with the registry through a concierge::Heartbeater for as long as it
// runs. Several of them run side by side; `guest` finds them through the registry.
//
//   room_service -agent 127.0.0.1:8500 -id room-1 [-ttl 2s]
//
// It listens on 127.0.0.1 at a port of the system's choosing, prints "listening on <port>",
// and deregisters itself on SIGINT or SIGTERM (a SIGKILL leaves that to the registry).
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "concierge/client.h"
#include "concierge/heartbeater.h"

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

std::string Flag(int argc, char** argv, const std::string& name, const std::string& otherwise) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "-" + name || argv[i] == "--" + name) return argv[i + 1];
  }
  return otherwise;
}

// One request per connection: this server has one thread and several clients.
void Serve(tcp::socket& socket, const std::string& id) {
  boost::beast::flat_buffer buffer;
  http::request<http::string_body> request;
  boost::system::error_code ec;
  http::read(socket, buffer, request, ec);
  if (ec) return;
  bool room = request.target() == "/room";
  http::response<http::string_body> response{
      room || request.target() == "/health" ? http::status::ok : http::status::not_found, 11};
  response.body() = room ? id + "\n" : "ok\n";
  response.keep_alive(false);
  response.prepare_payload();
  http::write(socket, response, ec);
}

}  // namespace

int main(int argc, char** argv) {
  std::string agent = Flag(argc, argv, "agent", "127.0.0.1:8500");
  std::string id = Flag(argc, argv, "id", "room-1");
  int ttl_ms = std::stoi(Flag(argc, argv, "ttl-ms", "2000"));

  // SIGINT/SIGTERM are taken by a thread of their own (below); every thread inherits this.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  net::io_context ioc;
  tcp::acceptor acceptor(ioc, {net::ip::address_v4::loopback(), 0});
  std::uint16_t port = acceptor.local_endpoint().port();

  auto client = concierge::Client::Open({.addresses = {agent}});
  if (!client.ok()) {
    std::cerr << client.status().message() << "\n";
    return 2;
  }
  concierge::Heartbeater heartbeater(
      client->get(),
      {.name = "room-service",
       .id = id,
       .address = "127.0.0.1",
       .port = port,
       .ttl = std::chrono::milliseconds(ttl_ms)},
      {.log = [&](const std::string& event) { std::cerr << id << ": " << event << std::endl; }});
  concierge::Status registered = heartbeater.Start();
  std::cout << id << " listening on " << port
            << (registered.ok() ? ", registered" : ", not registered yet: " + registered.message())
            << std::endl;

  std::atomic<bool> stopping{false};
  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    stopping = true;
    // Wakes the blocking accept.
    net::io_context wake_ioc;
    tcp::socket wake(wake_ioc);
    boost::system::error_code ignored;
    wake.connect({net::ip::address_v4::loopback(), port}, ignored);
  });

  while (!stopping) {
    tcp::socket socket(ioc);
    boost::system::error_code ec;
    acceptor.accept(socket, ec);
    if (ec || stopping) break;
    Serve(socket, id);
  }
  signal_thread.join();
  concierge::Status stopped = heartbeater.Stop();
  std::cout << id << " stopped" << (stopped.ok() ? "" : ": " + stopped.message()) << std::endl;
  return stopped.ok() ? 0 : 1;
}
