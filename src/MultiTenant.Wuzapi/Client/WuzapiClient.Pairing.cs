using MultiTenant.Clients;
using MultiTenant.Wuzapi.Diagnostics;
using MultiTenant.Wuzapi.Engine;
using MultiTenant.Wuzapi.Users;

namespace MultiTenant.Wuzapi.Client;

/// <summary>Waiting for the engine session to log in: pairing a new phone, or the login of a paired one after a connect.</summary>
internal sealed partial class WuzapiClient
{
    /// <summary>
    /// Polls the engine every <see cref="WuzapiOptions.PairingPollInterval"/> until <c>LoggedIn</c>. Not paired yet: shows the engine's
    /// QR code (<c>GET /session/qr</c>) on the pairing board, or, when a pairing phone number is set, the pairing code
    /// <c>POST /session/pairphone</c> returned; gives up after <see cref="WuzapiOptions.PairingTimeout"/> with
    /// <see cref="TenantFatalReason.NotPaired"/>. Paired already: a QR code on offer means the device was logged out from the phone
    /// (<see cref="TenantFatalReason.LoggedOut"/>); no login within the timeout is transient (the coordinator retries with backoff).
    /// A session the engine dropped meanwhile (whatsmeow ends a QR session after its last code) is connected again.
    /// </summary>
    private async Task WaitForLoginAsync(EngineUser user, WuzapiEngineApi engine, CancellationToken cancellationToken)
    {
        var time = _context.TimeProvider;
        var options = _services.Options;
        var deadline = time.GetUtcNow() + options.PairingTimeout;
        string? codeFor = null;
        bool announced = false;
        try
        {
            while (true)
            {
                var status = await engine.GetStatusAsync(user.Token, cancellationToken).ConfigureAwait(false);
                if (status is { LoggedIn: true })
                {
                    if (!user.Paired)
                    {
                        Log.Paired(_context.Logger, Tenant.Value);
                    }

                    return;
                }

                if (status is null)
                {
                    await engine.ConnectAsync(user.Token, options.Events, cancellationToken).ConfigureAwait(false);
                    codeFor = null;
                }
                else if (status is { Connected: true })
                {
                    string? qr = await engine.GetQrAsync(user.Token, cancellationToken).ConfigureAwait(false);
                    if (user.Paired && qr is not null)
                    {
                        await OnLoggedOutFromPhoneAsync(cancellationToken).ConfigureAwait(false);
                        throw new TenantFatalException(TenantFatalReason.LoggedOut, LoggedOutMessage);
                    }

                    if (!user.Paired)
                    {
                        codeFor = await ShowChallengeAsync(user, engine, qr, codeFor, cancellationToken).ConfigureAwait(false);
                        if (!announced)
                        {
                            announced = true;
                            Log.PairingStarted(_context.Logger, Tenant.Value);
                        }
                    }
                }

                if (time.GetUtcNow() >= deadline)
                {
                    if (user.Paired)
                    {
                        throw new WuzapiEngineException(engine.Name, "GET /session/status", 200, "the paired session did not log in within " + options.PairingTimeout);
                    }

                    throw new TenantFatalException(TenantFatalReason.NotPaired,
                        $"No phone was paired within {options.PairingTimeout}. Start the tenant again to show a new QR code.");
                }

                await Task.Delay(options.PairingPollInterval, time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _services.Pairing.Clear(Tenant);
        }
    }

    /// <summary>
    /// Shows the current challenge: the pairing code for the phone number set for the tenant (asked once per number and session), else
    /// the engine's QR code. Returns the number a pairing code was shown for.
    /// </summary>
    private async Task<string?> ShowChallengeAsync(EngineUser user, WuzapiEngineApi engine, string? qr, string? codeFor, CancellationToken cancellationToken)
    {
        var expires = _context.TimeProvider.GetUtcNow() + _services.Options.PairingPollInterval * 2;
        string? phone = await _services.Users.GetPairPhoneAsync(_context.State, cancellationToken).ConfigureAwait(false);
        if (phone is not null)
        {
            if (!string.Equals(phone, codeFor, StringComparison.Ordinal))
            {
                string code = await engine.PairPhoneAsync(user.Token, phone, cancellationToken).ConfigureAwait(false);
                // A linking code stays valid while the session waits; it is shown until paired or replaced.
                _services.Pairing.Show(new TenantPairingChallenge(Tenant, null, code, _context.TimeProvider.GetUtcNow() + _services.Options.PairingTimeout));
            }

            return phone;
        }

        if (qr is not null)
        {
            _services.Pairing.Show(new TenantPairingChallenge(Tenant, qr, null, expires));
        }

        return null;
    }
}
