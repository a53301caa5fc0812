#pragma once
//! \file rlvr/io/atomic_file.hpp
//! \brief `write_file_atomic`: the one way rlvr writes a file — all of it or nothing, and never a
//! silent failure.
//!
//! `write_file_atomic(path, bytes)` writes `<path>.tmp-<random>` in the same directory, checks
//! every write, the flush, the `fsync` (POSIX) and the close, and then renames the temporary over
//! `path` (atomic on POSIX file systems). A crash leaves either the old file or the new one, never
//! a torn one; any failure (a directory that does not exist or cannot be written, a path through
//! a regular file, a full disk, a device that refuses writes) removes the temporary and raises
//! `rlvr::io_error` naming the path and the system's reason.
//!
//! Why every step is checked: a buffered stream reports a full disk only when it flushes, and
//! some file systems (NFS, quotas) only when the file is closed, so a writer that checks just
//! `fwrite` (or an `std::ofstream` that checks nothing) can report success for a file that was
//! never written. Why a temporary and a rename: a reader, or a rerun after a crash, then sees
//! either the complete old file or the complete new one.
//!
//!     rlvr::io::write_file_atomic(dir / "results.json", json_text);   // throws on any failure
//!
//! Cost: one extra `fsync` per file (the data reaches the disk before the rename publishes it).
//! The temporary's name has 64 random bits, so concurrent writers of one path do not collide;
//! the last rename wins. The temporary lives in the destination's directory because a rename is
//! atomic only within one file system; a leftover `<name>.tmp-*` after a power cut is harmless
//! and can be deleted.
//!
//! Not atomic on file systems without an atomic rename (some network mounts); the checks still
//! hold there, so a failure is still reported.
//!
//! Users: `rlvr::io::save_safetensors` (checkpoints, weights) and every output of rlvr-study
//! (results.json, curves.csv, table.txt, the figures).

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#if __has_include(<unistd.h>)
#include <unistd.h>
#define RLVR_IO_HAVE_FSYNC 1
#else
#define RLVR_IO_HAVE_FSYNC 0
#endif

#include "rlvr/error.hpp"

namespace rlvr::io {

namespace detail {
//! Writes `bytes` to the open stream `f`, flushes (and fsyncs) it and closes it, checking each
//! step; `f` is closed in every case. Throws `io_error` naming `what` with the first failure's
//! `errno` text (a later failure never hides an earlier one). `fsync` failing with EINVAL means
//! the file cannot be synced (a device such as /dev/null) and is not an error.
inline void write_and_close(std::FILE* f, std::span<const std::byte> bytes, const std::string& what) {
  int err = 0;
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) err = errno ? errno : EIO;
  if (std::fflush(f) != 0 && err == 0) err = errno ? errno : EIO;
#if RLVR_IO_HAVE_FSYNC
  if (err == 0 && ::fsync(::fileno(f)) != 0 && errno != EINVAL) err = errno; // EINVAL: cannot be synced (a device)
#endif
  if (std::fclose(f) != 0 && err == 0) err = errno ? errno : EIO;
  if (err != 0) fail<io_error>("writing ", what, " failed: ", std::strerror(err));
}
} // namespace detail

//! Writes `bytes` to `path` atomically (see the file comment). Throws `io_error` naming `path`:
//! when the temporary cannot be created (a missing directory, a path through a regular file, no
//! permission), when writing, flushing, syncing or closing it fails (a full disk), or when the
//! rename fails. The temporary is removed on every failure; `path` is then unchanged.
inline void write_file_atomic(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  std::random_device rd;
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(rd()) + std::to_string(rd());
  errno = 0;
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  RLVR_EXPECTS(f != nullptr, io, "cannot write ", path.string(), ": cannot create ", tmp.string(), ": ",
               std::strerror(errno ? errno : EIO));
  try {
    detail::write_and_close(f, bytes, path.string() + " (temporary " + tmp.string() + ")");
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ec2;
    std::filesystem::remove(tmp, ec2);
    fail<io_error>("cannot write ", path.string(), ": renaming ", tmp.string(), " over it failed: ", ec.message());
  }
}
//! Text form: writes the bytes of `text` as they are (no newline translation).
inline void write_file_atomic(const std::filesystem::path& path, std::string_view text) {
  write_file_atomic(path, std::as_bytes(std::span<const char>(text.data(), text.size())));
}

} // namespace rlvr::io
