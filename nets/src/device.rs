//! Device selection (burn 0.22: the backend is chosen at run time by the `Device`, STACK.md §2).

use burn::tensor::Device;

/// Where tensors live: LibTorch on the CPU, or a CUDA GPU through LibTorch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// LibTorch CPU.
    Cpu,
    /// LibTorch CUDA device with this index.
    Cuda(usize),
}

/// A device that cannot be parsed or does not work.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// Not `cpu`, `cuda` or `cuda:N`.
    #[error("unknown device {0:?}: use cpu, cuda or cuda:N")]
    Unknown(String),
    /// CUDA asked for where libtorch sees no such GPU (issue #33 point 5: this panicked in tch).
    #[error("--device {asked}: {why}; use --device cpu")]
    Unavailable {
        /// The device asked for.
        asked: String,
        /// What libtorch sees.
        why: String,
    },
    /// The smoke computation gave a wrong result.
    #[error("sum(arange(10)) gave {0}, expected 45")]
    WrongResult(f32),
}

impl std::str::FromStr for DeviceSpec {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| DeviceError::Unknown(s.to_string())),
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl serde::Serialize for DeviceSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DeviceSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The `--device` flag every command that runs a model takes.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct DeviceArgs {
    /// cpu, cuda or cuda:N (checked: a GPU libtorch does not see is refused here).
    #[arg(long, default_value = "cpu", value_parser = parse_available)]
    pub device: DeviceSpec,
}

/// `--device`'s parser: a device that parses and that libtorch has.
fn parse_available(s: &str) -> Result<DeviceSpec, DeviceError> {
    s.parse::<DeviceSpec>()?.available()
}

impl DeviceSpec {
    /// This device, if libtorch has it: CUDA needs a visible GPU with this index (libtorch's
    /// CUDA calls panic without one). Checked where a device is chosen (`--device`, a training
    /// config), not where a saved config is read back.
    pub fn available(self) -> Result<Self, DeviceError> {
        match self {
            Self::Cpu => Ok(self),
            Self::Cuda(i) => {
                let n = tch::Cuda::device_count();
                if (i as i64) < n {
                    Ok(self)
                } else {
                    let why = match n {
                        0 => {
                            "no CUDA GPU is visible to libtorch (none here, or a CPU-only torch)".to_string()
                        }
                        n => format!("libtorch sees {n} CUDA GPU(s), numbered 0 to {}", n - 1),
                    };
                    Err(DeviceError::Unavailable { asked: self.to_string(), why })
                }
            }
        }
    }

    /// The burn device (inference; use `.autodiff()` on it for training).
    #[allow(deprecated)] // Device::libtorch* are marked deprecated in burn 0.22 but are the tch entry points.
    pub fn device(self) -> Device {
        match self {
            Self::Cpu => Device::libtorch(),
            Self::Cuda(i) => Device::libtorch_cuda(i),
        }
    }
}

/// Sets libtorch's intra-op threads (CPU kernels). Jobs that run several models at once give
/// each `cores / jobs` so they do not oversubscribe the machine.
pub fn set_threads(n: usize) {
    tch::set_num_threads(n.max(1) as i32);
}

/// Sums `arange(10)` on `spec`'s device: 45 when libtorch (and the GPU, for CUDA) works.
pub fn check(spec: DeviceSpec) -> Result<f32, DeviceError> {
    let device = spec.device();
    let t = burn::tensor::Tensor::<1, burn::tensor::Int>::arange(0..10, &device).float();
    let sum: f32 = t.sum().into_scalar::<f32>();
    if sum == 45.0 {
        Ok(sum)
    } else {
        Err(DeviceError::WrongResult(sum))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Tensor, TensorData};

    /// Proves the toolchain: a matmul on LibTorch CPU through burn, checked by hand.
    #[test]
    fn libtorch_smoke() {
        let device = DeviceSpec::Cpu.device();
        let a = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]), &device);
        let b = Tensor::<2>::from_data(TensorData::new(vec![5.0f32, 6.0, 7.0, 8.0], [2, 2]), &device);
        let c: Vec<f32> = a.matmul(b).into_data().try_to_vec().unwrap();
        assert_eq!(c, vec![19.0, 22.0, 43.0, 50.0]);
    }

    #[test]
    fn parses_devices() {
        assert_eq!("cuda:2".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(2));
        assert!("tpu".parse::<DeviceSpec>().is_err());
    }

    /// Issue #33 point 5: `--device cuda` without a GPU is one clear error, not a panic in tch.
    #[test]
    fn a_missing_gpu_is_an_error() {
        let n = tch::Cuda::device_count() as usize;
        let e = DeviceSpec::Cuda(n).available().unwrap_err().to_string();
        assert!(e.contains("use --device cpu"), "{e}");
        assert!(parse_available(&format!("cuda:{n}")).is_err());
        assert_eq!(parse_available("cpu").unwrap(), DeviceSpec::Cpu);
    }
}
