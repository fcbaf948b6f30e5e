//! What ships beside the controller: the Helm chart, the CRD, the Argo CD health check, and the
//! `uc-operator validate` and `import` commands.

mod argocd;
pub(crate) mod chart;
pub(crate) mod chart_install;
mod cli_import;
mod cli_validate;
mod crd;
mod rollout;
