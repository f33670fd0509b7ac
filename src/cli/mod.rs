//! The one-shot commands beside the daemon: the demo, `replay` and `test-patterns`.

pub mod demo;
pub mod replay;
pub mod test_patterns;
