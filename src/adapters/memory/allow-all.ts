// The default security ports when nothing is configured: anyone may connect, publish
// and subscribe (the security issue brings password files, tokens and ACLs).
import type { AuthResult, Authenticator, Authorizer, AuthzVerdict } from '../../core/ports.js';

export class AllowAllAuthenticator implements Authenticator {
  authenticate(): AuthResult {
    return { ok: true };
  }
}

export class AllowAllAuthorizer implements Authorizer {
  canPublish(): AuthzVerdict {
    return 'allow';
  }
  canSubscribe(): AuthzVerdict {
    return 'allow';
  }
}
