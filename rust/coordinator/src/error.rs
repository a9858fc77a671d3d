use crate::exit;

/// Why a run could not happen at all.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// Bad input from the user: exit 4.
    #[error("{0}")]
    Usage(String),
    /// A failure of dbtest itself: exit 3.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoordinatorError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CoordinatorError::Usage(_) => exit::USAGE_ERROR,
            CoordinatorError::Internal(_) => exit::INTERNAL_ERROR,
        }
    }
}

impl From<dbtest_config::ConfigError> for CoordinatorError {
    fn from(err: dbtest_config::ConfigError) -> Self {
        CoordinatorError::Usage(err.to_string())
    }
}

impl From<dbtest_discovery::DiscoveryError> for CoordinatorError {
    fn from(err: dbtest_discovery::DiscoveryError) -> Self {
        CoordinatorError::Usage(err.to_string())
    }
}

impl From<dbtest_select::ExpressionError> for CoordinatorError {
    fn from(err: dbtest_select::ExpressionError) -> Self {
        CoordinatorError::Usage(err.to_string())
    }
}
