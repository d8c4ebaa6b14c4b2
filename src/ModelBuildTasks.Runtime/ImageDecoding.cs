using StbImageSharp;

namespace ModelBuildTasks.Runtime;

/// <summary>
/// Image files decoded after their header is checked, one path for the engine's image folders and the
/// shipped runtime's <c>PredictImage</c> (the engine links this file). The decoder trusts headers: a
/// few bytes can claim a size whose allocation takes the process down, and a file cut short mostly
/// decodes without complaint, what is missing read as zeros, to an image the model then classifies
/// (<see cref="CutShortImage"/>). Grey PSD files, which the decoder refuses, are read through <see cref="GreyPsd"/>.
/// </summary>
internal static class ImageDecoding
{
    /// <summary>
    /// The file names of the formats decoded here: the engine's image folders read exactly these, so a
    /// folder of the images an app will classify (GIFs, say) is measured, not skipped.
    /// </summary>
    public static readonly string[] FileExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".psd", ".hdr"];

    /// <summary>The most pixels an image may claim (the engine's <c>DatasetLimits.MaxImagePixels</c> too).</summary>
    public const long MaxImagePixels = 1L << 26;

    /// <summary>Grey for a grey image (with or without alpha), else RGB: what every image is decoded to.</summary>
    public static ColorComponents GreyOrRgb(ImageInfo info) =>
        info.ColorComponents is ColorComponents.Grey or ColorComponents.GreyAlpha ? ColorComponents.Grey : ColorComponents.RedGreenBlue;

    /// <summary>Decodes <paramref name="encoded"/>; throws <see cref="InvalidDataException"/> with the reason (without the file's name).</summary>
    /// <param name="encoded">The file's bytes.</param>
    /// <param name="components">The components to decode to, chosen from the header.</param>
    /// <param name="maxPixels">The most pixels the image may claim (at most <see cref="MaxImagePixels"/>).</param>
    public static ImageResult Decode(byte[] encoded, Func<ImageInfo, ColorComponents> components, long maxPixels = MaxImagePixels)
    {
        try
        {
            var greyPsd = GreyPsd.Is(encoded);
            ImageInfo info;
            using (var header = new MemoryStream(encoded, writable: false))
                info = greyPsd ? GreyPsd.Info(encoded)
                    : ImageInfo.FromStream(header) ?? throw new InvalidDataException("not an image of a known format (PNG, JPEG, BMP, GIF, TGA, PSD, HDR)");
            if (info.Width <= 0 || info.Height <= 0 || (long)info.Width * info.Height > Math.Min(maxPixels, MaxImagePixels))
                throw new InvalidDataException($"the image claims {info.Width}x{info.Height} pixels, beyond the limit of {Math.Min(maxPixels, MaxImagePixels):N0}");
            if (CutShortImage.Reason(encoded) is { } reason) throw new InvalidDataException(reason);
            return ImageResult.FromMemory(greyPsd ? GreyPsd.AsRgb(encoded) : encoded, components(info));
        }
        catch (Exception e) when (e is not InvalidDataException and (InvalidOperationException or IOException or ArgumentException or IndexOutOfRangeException))
        {
            // The decoder's reason can be empty or end in NULs.
            var reason = e.Message.TrimEnd('\0');
            throw new InvalidDataException($"cannot decode the image: {(reason.Length > 0 ? reason : "damaged or cut short")}", e);
        }
    }
}
