//! Nothing to use here: this package holds plainkafka's interoperability tests (`tests/`) and
//! its benchmark against librdkafka (`examples/bench.rs`), apart from the main package so that
//! their heavy dev-dependencies never slow down building plainkafka itself.
