//! What ships beside the controller: the Helm chart, the CRD, the Argo CD health check, and the
//! `uc-operator validate` and `import` commands.

mod argocd;
mod chart;
mod chart_install;
mod cli_import;
mod cli_validate;
mod crd;
mod operations;
mod rollout;
