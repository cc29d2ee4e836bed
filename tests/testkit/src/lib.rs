//! Test support for influence-gen-bridge (placeholder until the emulator lands).
