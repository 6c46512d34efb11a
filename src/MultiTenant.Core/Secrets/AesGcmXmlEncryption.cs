using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Microsoft.Extensions.DependencyInjection;

namespace MultiTenant.Secrets;

/// <summary>
/// Encrypts the secret part of each Data Protection key (its master key) with the current key-encryption key, AES-256-GCM, before
/// the key ring stores it. The stored element names the KEK by id, so <see cref="AesGcmXmlDecryptor"/> picks the right one after a
/// KEK rotation. Written: <c>&lt;aesGcmEncrypted kek="id"&gt;base64(nonce ‖ tag ‖ ciphertext)&lt;/aesGcmEncrypted&gt;</c>, with
/// the KEK id and a version label as associated data.
/// </summary>
internal sealed class AesGcmXmlEncryptor(KeyEncryptionKeys keys) : IXmlEncryptor
{
    public const string ElementName = "aesGcmEncrypted";
    public const string KekAttribute = "kek";
    private const int NonceSize = 12;
    private const int TagSize = 16;

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        ArgumentNullException.ThrowIfNull(plaintextElement);
        byte[] plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        byte[] sealedBytes = new byte[NonceSize + TagSize + plaintext.Length];
        var nonce = sealedBytes.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(keys.Current, TagSize))
        {
            aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(NonceSize + TagSize), sealedBytes.AsSpan(NonceSize, TagSize), AssociatedData(keys.CurrentId));
        }

        CryptographicOperations.ZeroMemory(plaintext);
        var element = new XElement(ElementName, new XAttribute(KekAttribute, keys.CurrentId), Convert.ToBase64String(sealedBytes));
        return new EncryptedXmlInfo(element, typeof(AesGcmXmlDecryptor));
    }

    internal static byte[] AssociatedData(string kekId) => Encoding.ASCII.GetBytes("MultiTenant.Secrets.KeyRing.v1:" + kekId);

    internal static XElement Decrypt(KeyEncryptionKeys keys, XElement encryptedElement)
    {
        ArgumentNullException.ThrowIfNull(encryptedElement);
        string kekId = (string?)encryptedElement.Attribute(KekAttribute)
            ?? throw new CryptographicException("A key of the key ring has no key-encryption key id; the key ring was altered.");
        if (!keys.TryGet(kekId, out byte[] kek))
        {
            throw new CryptographicException(
                $"A key of the key ring was encrypted with the key-encryption key {kekId}, which is not configured. Add it to " +
                $"{TenantSecretsOptions.SectionName}:{nameof(TenantSecretsOptions.PreviousKeyEncryptionKeys)} (or set it as {nameof(TenantSecretsOptions.KeyEncryptionKey)}).");
        }

        byte[] sealedBytes;
        try
        {
            sealedBytes = Convert.FromBase64String(encryptedElement.Value);
        }
        catch (FormatException ex)
        {
            throw new CryptographicException("A key of the key ring is not valid base64; the key ring was altered.", ex);
        }

        if (sealedBytes.Length < NonceSize + TagSize)
        {
            throw new CryptographicException("A key of the key ring is too short; the key ring was altered.");
        }

        byte[] plaintext = new byte[sealedBytes.Length - NonceSize - TagSize];
        try
        {
            using (var aes = new AesGcm(kek, TagSize))
            {
                // Throws AuthenticationTagMismatchException (a CryptographicException) when the bytes or the KEK id were altered.
                aes.Decrypt(
                    sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize + TagSize), sealedBytes.AsSpan(NonceSize, TagSize), plaintext, AssociatedData(kekId));
            }

            return XElement.Parse(Encoding.UTF8.GetString(plaintext));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }
}

/// <summary>
/// Decrypts what <see cref="AesGcmXmlEncryptor"/> wrote. Data Protection creates it by type name through its activator, with the
/// service provider of <see cref="DataProtectionTenantSecretProtector"/>'s own container, which holds the <see cref="KeyEncryptionKeys"/>.
/// </summary>
internal sealed class AesGcmXmlDecryptor : IXmlDecryptor
{
    private readonly KeyEncryptionKeys _keys;

    /// <summary>Called by Data Protection's activator.</summary>
    [SuppressMessage("Performance", "CA1812", Justification = "Created by Data Protection's activator from its type name.")]
    public AesGcmXmlDecryptor(IServiceProvider services) => _keys = services.GetRequiredService<KeyEncryptionKeys>();

    public XElement Decrypt(XElement encryptedElement) => AesGcmXmlEncryptor.Decrypt(_keys, encryptedElement);
}
