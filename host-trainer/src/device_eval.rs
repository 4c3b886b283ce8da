//! Talking to the board (placeholder).
