//! Learning-rate schedules: the rate to use at a given epoch (or step), as pure functions.

/// Multiplies the rate by `gamma` every `step_size` epochs (`torch.optim.lr_scheduler.StepLR`).
pub fn step_lr(base_lr: f64, epoch: usize, step_size: usize, gamma: f64) -> f64 {
    base_lr * gamma.powi((epoch / step_size.max(1)) as i32)
}

/// Cosine annealing from `base_lr` at epoch 0 to `min_lr` at epoch `t_max`
/// (`torch.optim.lr_scheduler.CosineAnnealingLR`):
/// lr = min + (base - min) (1 + cos(pi epoch / t_max)) / 2.
///
/// ```
/// use scratchgrad::optim::cosine_lr;
/// assert_eq!(cosine_lr(0.1, 0.0, 0, 10), 0.1);
/// assert!((cosine_lr(0.1, 0.0, 5, 10) - 0.05).abs() < 1e-15);
/// ```
pub fn cosine_lr(base_lr: f64, min_lr: f64, epoch: usize, t_max: usize) -> f64 {
    let progress = epoch.min(t_max) as f64 / t_max.max(1) as f64;
    min_lr + (base_lr - min_lr) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
}
