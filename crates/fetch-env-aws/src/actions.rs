//! The IAM action of every request the AWS store makes, written once: the requests name them in
//! their error messages (which permission on which resource is missing) and
//! [`crate::iam_policy`] grants them.

pub const GET_PARAMETERS_BY_PATH: &str = "ssm:GetParametersByPath";
pub const GET_PARAMETERS: &str = "ssm:GetParameters";
pub const BATCH_GET_SECRET_VALUE: &str = "secretsmanager:BatchGetSecretValue";
pub const LIST_SECRETS: &str = "secretsmanager:ListSecrets";
pub const GET_SECRET_VALUE: &str = "secretsmanager:GetSecretValue";
pub const PUT_PARAMETER: &str = "ssm:PutParameter";
pub const DELETE_PARAMETER: &str = "ssm:DeleteParameter";
pub const PUT_SECRET_VALUE: &str = "secretsmanager:PutSecretValue";
pub const CREATE_SECRET: &str = "secretsmanager:CreateSecret";
pub const UPDATE_SECRET_VERSION_STAGE: &str = "secretsmanager:UpdateSecretVersionStage";
