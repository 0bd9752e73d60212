//! Passwords stored as argon2id PHC strings, hashed in one working memory per process.
//!
//! argon2 needs `m` KiB of working memory a hash (19 MiB by default). Allocated and freed a
//! hash at a time, glibc raises its mmap threshold after the first free and serves the next
//! ones from the heap, which it does not give back: a warm function grew to ~150 MiB over ten
//! hashes (issue 17). One block array, kept for the process and reused, keeps it at one hash's.
//! It is zeroed after each hash, so no password-derived state outlives the call.

use std::sync::{Mutex, TryLockError};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{
    Decimal, Ident, Output, ParamsString, PasswordHash as Phc, PasswordHasher, PasswordVerifier, Salt, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::Password;
use crate::error::{Error, Result};

/// A password as stored: its argon2id PHC string. Never logged, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// A hash read back from the store, trusted as it was written.
    pub fn stored(phc: String) -> Self {
        PasswordHash(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

/// argon2id with parameters from configuration (OWASP's minimum by default:
/// m = 19456 KiB, t = 2, p = 1).
#[derive(Debug, Clone)]
pub struct PasswordHasherConfig {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordHasherConfig {
    fn default() -> Self {
        PasswordHasherConfig { memory_kib: 19_456, iterations: 2, parallelism: 1 }
    }
}

impl PasswordHasherConfig {
    /// The PHC string (`$argon2id$v=19$m=...`), which carries its own salt and parameters.
    pub fn hash(&self, password: &Password) -> Result<PasswordHash> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| Error::internal("argon2 parameters", e))?;
        let salt = SaltString::generate(&mut OsRng);
        ReusedMemory
            .hash_password_customized(password.as_str().as_bytes(), None, None, params, &salt)
            .map(|hash| PasswordHash(hash.to_string()))
            .map_err(|e| Error::internal("argon2 hash", e))
    }

    /// Checks `password` against a stored PHC string, with that string's own parameters
    /// (compared in constant time by `PasswordVerifier`).
    pub fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool> {
        let parsed = Phc::new(&hash.0).map_err(|e| Error::internal("stored password hash", e))?;
        Ok(ReusedMemory.verify_password(password.as_str().as_bytes(), &parsed).is_ok())
    }
}

static WORKING_MEMORY: Mutex<Vec<Block>> = Mutex::new(Vec::new());

/// `work` on `blocks` blocks of the process's working memory. A second hash at the same time
/// (a test process; a Lambda process serves one request at a time) gets memory of its own.
fn in_working_memory<T>(blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    let mut memory = match WORKING_MEMORY.try_lock() {
        Ok(memory) => memory,
        // A panic mid-hash left the blocks as they were: they are overwritten, so still usable.
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return work(&mut vec![Block::default(); blocks]),
    };
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let result = work(&mut memory[..blocks]);
    memory[..blocks].fill(Block::default());
    result
}

/// argon2 as a `PasswordHasher` (so `PasswordVerifier` comes with it) that hashes in the
/// working memory: the same output as `Argon2`'s own, without its allocation.
struct ReusedMemory;

impl PasswordHasher for ReusedMemory {
    type Params = Params;

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> argon2::password_hash::Result<Phc<'a>> {
        let algorithm = algorithm.map(Algorithm::try_from).transpose()?.unwrap_or(Algorithm::Argon2id);
        let version = version.map(Version::try_from).transpose()?.unwrap_or(Version::V0x13);
        let salt = salt.into();
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let output = Output::init_with(params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN), |out| {
            in_working_memory(params.block_count(), |memory| {
                argon2.hash_password_into_with_memory(password, salt_bytes, out, memory)
            })
            .map_err(Into::into)
        })?;
        Ok(Phc {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let hasher = PasswordHasherConfig { memory_kib: 1024, iterations: 1, parallelism: 1 };
        let phc = hasher.hash(&Password::new("Tr0ub4dor&3")).unwrap();
        assert!(phc.as_str().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(hasher.verify(&Password::new("Tr0ub4dor&3"), &phc).unwrap());
        assert!(!hasher.verify(&Password::new("Tr0ub4dor&4"), &phc).unwrap());
        // Two hashes of one password differ by their salt.
        assert_ne!(phc, hasher.hash(&Password::new("Tr0ub4dor&3")).unwrap());
    }

    #[test]
    fn the_default_parameters_are_owasps() {
        let phc = PasswordHasherConfig::default().hash(&Password::new("Tr0ub4dor&3")).unwrap();
        assert!(phc.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", phc.as_str());
    }

    /// The output is the argon2 crate's own (hashes stored before this change still verify),
    /// whatever the kept memory held before, at any size.
    #[test]
    fn hashing_in_reused_memory_gives_argon2s_own_output() {
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let params = |m| Params::new(m, 2, 1, None).unwrap();
        for (password, m) in [("first", 2048), ("Tr0ub4dor&3", 1024), ("Tr0ub4dor&3", 4096), ("Tr0ub4dor&3", 1024)] {
            // As a crashed or differently sized hash would leave it (nothing else hashes here:
            // each test is a process of its own under nextest).
            WORKING_MEMORY.lock().unwrap_or_else(|p| p.into_inner()).resize(4096, Block::new());
            garble(&mut WORKING_MEMORY.lock().unwrap());
            let own = Argon2::new(Algorithm::Argon2id, Version::V0x13, params(m))
                .hash_password(password.as_bytes(), &salt)
                .unwrap()
                .to_string();
            let reused = ReusedMemory.hash_password_customized(password.as_bytes(), None, None, params(m), &salt);
            assert_eq!(reused.unwrap().to_string(), own, "{password} at m={m}");
            let config = PasswordHasherConfig::default();
            assert!(config.verify(&Password::new(password), &PasswordHash::stored(own)).unwrap());
        }
        ReusedMemory.hash_password_customized(b"last", None, None, params(4096), &salt).unwrap();
        let memory = WORKING_MEMORY.lock().unwrap();
        assert!(memory.len() >= 4096, "the memory is kept, at its largest");
        assert!(memory.iter().all(|block| block.as_ref().iter().all(|&word| word == 0)), "and zeroed after use");
    }

    fn garble(memory: &mut [Block]) {
        for (n, block) in memory.iter_mut().enumerate() {
            let words: &mut [u64] = block.as_mut();
            words.iter_mut().enumerate().for_each(|(i, word)| *word = (n as u64) << 32 | i as u64 | 1);
        }
    }

    /// A hash of other parameters (an older configuration, argon2i) verifies with its own.
    #[test]
    fn a_stored_hash_verifies_with_its_own_parameters() {
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::new(512, 3, 1, None).unwrap());
        let stored = PasswordHash::stored(argon2i.hash_password(b"Tr0ub4dor&3", &salt).unwrap().to_string());
        let config = PasswordHasherConfig::default();
        assert!(config.verify(&Password::new("Tr0ub4dor&3"), &stored).unwrap());
        assert!(!config.verify(&Password::new("Tr0ub4dor&4"), &stored).unwrap());
    }
}
