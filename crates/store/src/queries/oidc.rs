//! OpenID Connect provider storage.
//!
//! The SQL both engines run (see `queries/mod.rs`). Codes and refresh tokens
//! change state only through conditional updates (`WHERE used_at IS NULL`,
//! `WHERE generation = $n`), so of two concurrent requests exactly one wins.

use async_trait::async_trait;
use gatehouse_domain::audit::NewAuditEntry;
use gatehouse_domain::{AccountId, Timestamp, TokenHash};
use sqlx::Row as _;

use super::{DbRow, EngineStore};
use crate::error::unique_as_conflict;
use crate::sql::parse;
use crate::{
    Applied, ClientRecord, CodeRecord, GrantRecord, NewGrant, NewRefreshToken, OidcStore,
    RefreshRecord, Result, SigningKeyRecord, StoreError,
};

const CLIENT_COLUMNS: &str = "id, name, secret_hash, redirect_uris, post_logout_redirect_uris, \
    first_party, backchannel_logout_uri, backchannel_logout_session_required, created_at, \
    updated_at, disabled_at, id_token_signed_response_alg";

const CODE_COLUMNS: &str = "code_hash, client_id, account_id, session_id, redirect_uri, scope, \
    nonce, code_challenge, auth_time, created_at, used_at, grant_id";

/// A grant joined with its account and (if not purged) its session.
const GRANT_SELECT: &str = "SELECT g.id, g.client_id, g.account_id, a.email, g.session_id, \
    g.scope, g.auth_time, g.generation, g.revoked_at, s.state AS session_state, \
    s.expires_at AS session_expires_at \
    FROM oidc_grants g JOIN accounts a ON a.id = g.account_id \
    LEFT JOIN sessions s ON s.id = g.session_id";

fn hash_from(row: &DbRow, column: &str) -> Result<TokenHash> {
    let b: Vec<u8> = row.try_get(column)?;
    TokenHash::from_slice(&b)
        .ok_or_else(|| StoreError::corrupt(format!("{column} is not 32 bytes")))
}

fn uris_from(row: &DbRow, column: &str) -> Result<Vec<String>> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::corrupt(format!("{column} is not a JSON list of strings: {e}")))
}

fn uris_json(uris: &[String]) -> String {
    serde_json::Value::from(uris.to_vec()).to_string()
}

impl EngineStore {
    fn client_from(row: &DbRow) -> Result<ClientRecord> {
        let secret: Option<Vec<u8>> = row.try_get("secret_hash")?;
        Ok(ClientRecord {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            secret_hash: secret
                .map(|b| {
                    TokenHash::from_slice(&b)
                        .ok_or_else(|| StoreError::corrupt("client secret_hash is not 32 bytes"))
                })
                .transpose()?,
            redirect_uris: uris_from(row, "redirect_uris")?,
            post_logout_redirect_uris: uris_from(row, "post_logout_redirect_uris")?,
            first_party: row.try_get::<i64, _>("first_party")? == 1,
            backchannel_logout_uri: row.try_get("backchannel_logout_uri")?,
            backchannel_logout_session_required: row
                .try_get::<i64, _>("backchannel_logout_session_required")?
                == 1,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
            disabled_at: row
                .try_get::<Option<i64>, _>("disabled_at")?
                .map(Timestamp::from_millis),
            id_token_alg: row.try_get("id_token_signed_response_alg")?,
        })
    }

    fn code_from(row: &DbRow) -> Result<CodeRecord> {
        Ok(CodeRecord {
            code_hash: hash_from(row, "code_hash")?,
            client_id: row.try_get("client_id")?,
            account: parse("account id", &row.try_get::<String, _>("account_id")?)?,
            session: parse("session id", &row.try_get::<String, _>("session_id")?)?,
            redirect_uri: row.try_get("redirect_uri")?,
            scope: row.try_get("scope")?,
            nonce: row.try_get("nonce")?,
            code_challenge: row.try_get("code_challenge")?,
            auth_time: Timestamp::from_millis(row.try_get("auth_time")?),
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            used_at: row
                .try_get::<Option<i64>, _>("used_at")?
                .map(Timestamp::from_millis),
            grant_id: row.try_get("grant_id")?,
        })
    }

    fn grant_from(row: &DbRow) -> Result<GrantRecord> {
        Ok(GrantRecord {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            account: parse("account id", &row.try_get::<String, _>("account_id")?)?,
            account_email: row.try_get("email")?,
            session: parse("session id", &row.try_get::<String, _>("session_id")?)?,
            scope: row.try_get("scope")?,
            auth_time: Timestamp::from_millis(row.try_get("auth_time")?),
            generation: row.try_get("generation")?,
            revoked_at: row
                .try_get::<Option<i64>, _>("revoked_at")?
                .map(Timestamp::from_millis),
            session_state: row
                .try_get::<Option<String>, _>("session_state")?
                .map(|s| parse("session state", &s))
                .transpose()?,
            session_expires_at: row
                .try_get::<Option<i64>, _>("session_expires_at")?
                .map(Timestamp::from_millis),
        })
    }

    async fn insert_refresh_in(
        conn: &mut super::Conn,
        grant: &str,
        t: &NewRefreshToken,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, generation, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(t.token_hash.as_bytes())
        .bind(grant)
        .bind(t.generation)
        .bind(t.created_at.as_millis())
        .bind(t.expires_at.as_millis())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl OidcStore for EngineStore {
    async fn insert_signing_key(&self, key: &SigningKeyRecord, audit: NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO oidc_keys (kid, alg, public_jwk, sealed_private, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.public_jwk)
        .bind(&key.sealed_private)
        .bind(key.created_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_as_conflict(e, "a signing key with this kid exists"))?;
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        sqlx::query(
            "SELECT kid, alg, public_jwk, sealed_private, created_at FROM oidc_keys \
             WHERE retired_at IS NULL ORDER BY created_at DESC, kid",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(SigningKeyRecord {
                kid: row.try_get("kid")?,
                alg: row.try_get("alg")?,
                public_jwk: row.try_get("public_jwk")?,
                sealed_private: row.try_get("sealed_private")?,
                created_at: Timestamp::from_millis(row.try_get("created_at")?),
            })
        })
        .collect()
    }

    async fn create_client(&self, c: &ClientRecord, audit: NewAuditEntry) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO oidc_clients (id, name, secret_hash, redirect_uris, \
             post_logout_redirect_uris, first_party, created_at, updated_at, disabled_at, \
             backchannel_logout_uri, backchannel_logout_session_required, \
             id_token_signed_response_alg) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.secret_hash.as_ref().map(|h| h.as_bytes().to_vec()))
        .bind(uris_json(&c.redirect_uris))
        .bind(uris_json(&c.post_logout_redirect_uris))
        .bind(i64::from(c.first_party))
        .bind(c.created_at.as_millis())
        .bind(c.updated_at.as_millis())
        .bind(c.disabled_at.map(Timestamp::as_millis))
        .bind(c.backchannel_logout_uri.as_deref())
        .bind(i64::from(c.backchannel_logout_session_required))
        .bind(&c.id_token_alg)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_as_conflict(e, "a client with this id exists"))?;
        Self::append_audit_in(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn client(&self, id: &str) -> Result<Option<ClientRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::client_from).transpose()
    }

    async fn clients(&self) -> Result<Vec<ClientRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM oidc_clients ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(Self::client_from)
        .collect()
    }

    async fn update_client(&self, c: &ClientRecord, audit: NewAuditEntry) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let found = sqlx::query(
            "UPDATE oidc_clients SET name = $1, redirect_uris = $2, \
             post_logout_redirect_uris = $3, first_party = $4, updated_at = $5, \
             backchannel_logout_uri = $7, backchannel_logout_session_required = $8, \
             id_token_signed_response_alg = $9 WHERE id = $6",
        )
        .bind(&c.name)
        .bind(uris_json(&c.redirect_uris))
        .bind(uris_json(&c.post_logout_redirect_uris))
        .bind(i64::from(c.first_party))
        .bind(c.updated_at.as_millis())
        .bind(&c.id)
        .bind(c.backchannel_logout_uri.as_deref())
        .bind(i64::from(c.backchannel_logout_session_required))
        .bind(&c.id_token_alg)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if found {
            Self::append_audit_in(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(found)
    }

    async fn set_client_secret(
        &self,
        id: &str,
        secret_hash: &TokenHash,
        now: Timestamp,
        audit: NewAuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let found = sqlx::query(
            "UPDATE oidc_clients SET secret_hash = $1, updated_at = $2 \
             WHERE id = $3 AND secret_hash IS NOT NULL",
        )
        .bind(secret_hash.as_bytes())
        .bind(now.as_millis())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if found {
            Self::append_audit_in(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(found)
    }

    async fn disable_client(&self, id: &str, now: Timestamp, audit: NewAuditEntry) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let disabled = sqlx::query(
            "UPDATE oidc_clients SET disabled_at = $1, updated_at = $1 \
             WHERE id = $2 AND disabled_at IS NULL",
        )
        .bind(now.as_millis())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if disabled {
            let revoked = sqlx::query(
                "UPDATE oidc_grants SET revoked_at = $1, revoke_reason = 'client disabled' \
                 WHERE client_id = $2 AND revoked_at IS NULL",
            )
            .bind(now.as_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let mut audit = audit;
            crate::sql::merge_detail(&mut audit, serde_json::json!({ "grants_revoked": revoked }));
            Self::append_audit_in(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(disabled)
    }

    async fn insert_code(&self, c: &CodeRecord) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO oidc_codes ({CODE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        )))
        .bind(c.code_hash.as_bytes())
        .bind(&c.client_id)
        .bind(c.account.to_string())
        .bind(c.session.to_string())
        .bind(&c.redirect_uri)
        .bind(&c.scope)
        .bind(c.nonce.as_deref())
        .bind(&c.code_challenge)
        .bind(c.auth_time.as_millis())
        .bind(c.created_at.as_millis())
        .bind(c.used_at.map(Timestamp::as_millis))
        .bind(c.grant_id.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CODE_COLUMNS} FROM oidc_codes WHERE code_hash = $1"
        )))
        .bind(hash.as_bytes())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::code_from).transpose()
    }

    async fn redeem_code(
        &self,
        code: &TokenHash,
        now: Timestamp,
        g: &NewGrant,
        refresh: Option<&NewRefreshToken>,
    ) -> Result<Applied> {
        let mut tx = self.begin_write().await?;
        let won = sqlx::query(
            "UPDATE oidc_codes SET used_at = $1, grant_id = $2 \
             WHERE code_hash = $3 AND used_at IS NULL",
        )
        .bind(now.as_millis())
        .bind(&g.id)
        .bind(code.as_bytes())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !won {
            return Ok(Applied::Lost);
        }
        sqlx::query(
            "INSERT INTO oidc_grants (id, client_id, account_id, session_id, scope, auth_time, \
             created_at, generation) VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
        )
        .bind(&g.id)
        .bind(&g.client_id)
        .bind(g.account.to_string())
        .bind(g.session.to_string())
        .bind(&g.scope)
        .bind(g.auth_time.as_millis())
        .bind(g.created_at.as_millis())
        .execute(&mut *tx)
        .await?;
        if let Some(t) = refresh {
            Self::insert_refresh_in(&mut tx, &g.id, t).await?;
        }
        tx.commit().await?;
        Ok(Applied::Done)
    }

    async fn revoke_code_grant(&self, code: &TokenHash, now: Timestamp) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $1, revoke_reason = 'code replayed' \
             WHERE revoked_at IS NULL \
             AND id = (SELECT grant_id FROM oidc_codes WHERE code_hash = $2)",
        )
        .bind(now.as_millis())
        .bind(code.as_bytes())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshRecord>> {
        let Some(row) = sqlx::query(
            "SELECT grant_id, generation, expires_at FROM oidc_refresh_tokens \
             WHERE token_hash = $1",
        )
        .bind(hash.as_bytes())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let grant_id: String = row.try_get("grant_id")?;
        let grant = self
            .grant(&grant_id)
            .await?
            .ok_or_else(|| StoreError::corrupt("refresh token of a missing grant"))?;
        Ok(Some(RefreshRecord {
            generation: row.try_get("generation")?,
            expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
            grant,
        }))
    }

    async fn rotate_refresh(
        &self,
        grant: &str,
        from_generation: i64,
        next: &NewRefreshToken,
    ) -> Result<Applied> {
        let mut tx = self.begin_write().await?;
        let won = sqlx::query(
            "UPDATE oidc_grants SET generation = generation + 1 \
             WHERE id = $1 AND generation = $2 AND revoked_at IS NULL",
        )
        .bind(grant)
        .bind(from_generation)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !won {
            return Ok(Applied::Lost);
        }
        if next.generation != from_generation + 1 {
            return Err(StoreError::Invalid(
                "a rotated refresh token is the next generation",
            ));
        }
        Self::insert_refresh_in(&mut tx, grant, next).await?;
        tx.commit().await?;
        Ok(Applied::Done)
    }

    async fn grant(&self, id: &str) -> Result<Option<GrantRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{GRANT_SELECT} WHERE g.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::grant_from).transpose()
    }

    async fn revoke_grant(&self, id: &str, now: Timestamp, reason: &str) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $1, revoke_reason = $2 \
             WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now.as_millis())
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn purge_oidc(&self, codes_before: Timestamp, grants_before: Timestamp) -> Result<u64> {
        sqlx::query("DELETE FROM oidc_codes WHERE created_at < $1")
            .bind(codes_before.as_millis())
            .execute(&self.pool)
            .await?;
        // Refresh tokens go with their grant (ON DELETE CASCADE).
        Ok(sqlx::query(
            "DELETE FROM oidc_grants WHERE revoked_at < $1 OR (created_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM sessions s WHERE s.id = oidc_grants.session_id))",
        )
        .bind(grants_before.as_millis())
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    async fn consent(&self, account: AccountId, client: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT scope FROM oidc_consents WHERE account_id = $1 AND client_id = $2",
        )
        .bind(account.to_string())
        .bind(client)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn save_consent(
        &self,
        account: AccountId,
        client: &str,
        scope: &str,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO oidc_consents (account_id, client_id, scope, granted_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, client_id) DO UPDATE SET scope = $3, granted_at = $4",
        )
        .bind(account.to_string())
        .bind(client)
        .bind(scope)
        .bind(now.as_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
