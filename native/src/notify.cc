// systemd readiness notification (sd_notify(3)'s protocol) without libsystemd: one datagram to $NOTIFY_SOCKET.
#include "notify.h"

#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "errors.h"

namespace tsn2n {
namespace {

constexpr const char* kUsage = "notifySocket(path: string, state: string)";
// The largest state we send; systemd reads a notification into a buffer of this order (NOTIFY_BUFFER_MAX).
constexpr size_t kMaxStateBytes = 4096;

// notifySocket(path, state): sends `state` as one datagram to the AF_UNIX SOCK_DGRAM socket `path` (a file
// system path, or "@name" for the abstract namespace: the '@' becomes a NUL byte, see unix(7) and
// sd_notify(3)). Returns the bytes sent or a negative errno. The socket is non-blocking: a full receive queue
// gives -EAGAIN instead of stalling the event loop (systemd reads its notify socket promptly).
Napi::Value NotifySocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, kUsage);
  std::string state = ArgString(info, 1, kUsage);
  sockaddr_un sa{};
  // Abstract names have no terminating NUL; file system paths need room for one.
  bool abstract = !path.empty() && path[0] == '@';
  size_t room = sizeof(sa.sun_path) - (abstract ? 0 : 1);
  if (path.size() < 2 || (path[0] != '/' && !abstract) || path.size() > room || state.size() > kMaxStateBytes ||
      path.find('\0') != std::string::npos) {
    ThrowUsage(env, kUsage);
  }
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path.data(), path.size());
  if (abstract) sa.sun_path[0] = '\0';
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Napi::Number::New(env, -errno);
  ssize_t n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa), len);
  int err = errno;
  close(fd);
  return Napi::Number::New(env, n < 0 ? -err : static_cast<double>(n));
}

}  // namespace

void InitNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("notifySocket", Napi::Function::New(env, NotifySocket, "notifySocket"));
}

}  // namespace tsn2n
