//! The `OTEL_*` variables of each signal, in one table: every exporter
//! setting has a signal-specific variable (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//! that wins over the generic one (`OTEL_EXPORTER_OTLP_ENDPOINT`), and each
//! signal has its exporter choice (`OTEL_TRACES_EXPORTER`). The resolver
//! asks this table instead of naming variables itself.

use agent_otel_core::Signal;

use crate::env::Environment;

/// An exporter setting that the environment can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OtlpVar {
    Endpoint,
    Protocol,
    Headers,
    Compression,
    Timeout,
    Certificate,
    ClientCertificate,
    ClientKey,
    Insecure,
}

/// `(setting, generic variable, [logs, traces, metrics] variables)`.
const TABLE: [(OtlpVar, &str, [&str; 3]); 9] = [
    (
        OtlpVar::Endpoint,
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        [
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        ],
    ),
    (
        OtlpVar::Protocol,
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        [
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        ],
    ),
    (
        OtlpVar::Headers,
        "OTEL_EXPORTER_OTLP_HEADERS",
        [
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        ],
    ),
    (
        OtlpVar::Compression,
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        [
            "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
        ],
    ),
    (
        OtlpVar::Timeout,
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        [
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
        ],
    ),
    (
        OtlpVar::Certificate,
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        [
            "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
        ],
    ),
    (
        OtlpVar::ClientCertificate,
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        [
            "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
        ],
    ),
    (
        OtlpVar::ClientKey,
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        [
            "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
            "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
        ],
    ),
    (
        OtlpVar::Insecure,
        "OTEL_EXPORTER_OTLP_INSECURE",
        [
            "OTEL_EXPORTER_OTLP_LOGS_INSECURE",
            "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
            "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
        ],
    ),
];

fn index(signal: Signal) -> usize {
    match signal {
        Signal::Logs => 0,
        Signal::Traces => 1,
        Signal::Metrics => 2,
    }
}

/// The variables of `setting` for `signal`, most specific first.
pub(crate) fn vars(signal: Signal, setting: OtlpVar) -> [&'static str; 2] {
    let (_, generic, specific) = TABLE
        .iter()
        .find(|(s, ..)| *s == setting)
        .copied()
        .unwrap_or((setting, "", ["", "", ""]));
    [specific[index(signal)], generic]
}

/// The value of `setting` for `signal` with the variable that gave it: the
/// signal's own variable (`OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`), else the
/// generic one (`OTEL_EXPORTER_OTLP_TIMEOUT`), as the OTel SDKs resolve them.
pub(crate) fn signal_value(
    env: &Environment,
    signal: Signal,
    setting: OtlpVar,
) -> Option<(&'static str, &str)> {
    vars(signal, setting)
        .into_iter()
        .find_map(|var| env.otel(var).map(|value| (var, value)))
}

/// `OTEL_LOGS_EXPORTER`, `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`.
pub(crate) fn exporter_var(signal: Signal) -> &'static str {
    match signal {
        Signal::Logs => "OTEL_LOGS_EXPORTER",
        Signal::Traces => "OTEL_TRACES_EXPORTER",
        Signal::Metrics => "OTEL_METRICS_EXPORTER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_variable_per_signal_named_by_the_spec_rule() {
        for (setting, generic, specific) in TABLE {
            let suffix = generic.trim_start_matches("OTEL_EXPORTER_OTLP_");
            for signal in Signal::ALL {
                let [own, general] = vars(signal, setting);
                assert_eq!(general, generic);
                assert_eq!(
                    own,
                    format!(
                        "OTEL_EXPORTER_OTLP_{}_{suffix}",
                        signal.as_str().to_ascii_uppercase()
                    )
                );
                assert_eq!(own, specific[index(signal)]);
            }
        }
    }
}
