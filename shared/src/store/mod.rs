//! The production `domain::store::Store`: one DynamoDB table.

mod dynamo;

pub use dynamo::DynamoStore;
