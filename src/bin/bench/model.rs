//! The `model` suite: a generated 24-layer encoder of BERT-large's shapes run end to end
//! through the backend; its time per inference against numpy's float32 forward pass
//! (`model_time.rs`).

use super::Plan;

pub fn run(plan: Plan) -> Result<(), String> {
    super::model_time::run(plan)
}
