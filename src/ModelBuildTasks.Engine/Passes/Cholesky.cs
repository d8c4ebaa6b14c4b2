using System.Numerics.Tensors;

namespace ModelBuildTasks.Passes;

/// <summary>Cholesky factorisation and solves of small dense symmetric positive definite systems (row-major, double).</summary>
internal static class Cholesky
{
    /// <summary>In place: the lower triangle becomes L with A = L L^T; false when A is not positive definite.</summary>
    public static bool FactorLower(double[] a, int n)
    {
        for (var j = 0; j < n; j++)
        {
            var rowJ = a.AsSpan(j * n, j);
            var diagonal = a[j * n + j] - TensorPrimitives.Dot<double>(rowJ, rowJ);
            if (!(diagonal > 0)) return false;
            var l = Math.Sqrt(diagonal);
            a[j * n + j] = l;
            for (var i = j + 1; i < n; i++)
                a[i * n + j] = (a[i * n + j] - TensorPrimitives.Dot<double>(a.AsSpan(i * n, j), rowJ)) / l;
        }
        return true;
    }

    /// <summary>Solves L L^T x = b in place for one right-hand side, L from <see cref="FactorLower"/>.</summary>
    public static void Solve(double[] l, int n, Span<double> b)
    {
        for (var i = 0; i < n; i++) b[i] = (b[i] - TensorPrimitives.Dot<double>(l.AsSpan(i * n, i), b[..i])) / l[i * n + i];
        for (var i = n - 1; i >= 0; i--)
        {
            var sum = b[i];
            for (var k = i + 1; k < n; k++) sum -= l[k * n + i] * b[k];
            b[i] = sum / l[i * n + i];
        }
    }
}
