//! One integration-test binary (one link, shared helpers). Each test starts the real
//! application on port 0 with a fresh database, and every lifecycle, concurrency and CLI test
//! runs on both SQLite and PostgreSQL (see `helpers::TestDb`).

mod analytics;
mod cli;
mod client;
mod cluster;
mod config;
mod credentials;
mod fair_share;
mod faults;
mod helpers;
mod http_input;
mod http_runs;
mod jobs;
mod lifecycle;
mod logs;
mod memory;
mod methods;
mod metrics_labels;
mod nodes;
mod openapi;
mod options;
mod pages;
mod postgres;
mod qasm3;
mod qiskit;
mod qpy;
mod readme;
mod roles;
mod runtime;
mod sandbox;
mod security;
mod serve;
mod standing;
mod stopping;
mod traces;
mod upgrade;
