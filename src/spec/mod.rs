//! Campaign repository formats: YAML with positions, `crier.yaml`, campaign files. No I/O except
//! in [`load`], which reads files and hands their text to the pure parsers.

pub mod campaign;
pub mod config;
pub mod yaml;
