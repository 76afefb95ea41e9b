invisible(Sys.setlocale("LC_COLLATE", "C"))
rd <- function(f) read.csv(file.path("tests/data/r", f), stringsAsFactors = FALSE, check.names = FALSE)
models <- list(
  list("iris.csv", "Sepal.Length ~ Petal.Length + Species"),
  list("mtcars.csv", "mpg ~ wt * hp + factor(cyl)"),
  list("trees.csv", "log(Volume) ~ log(Girth) + log(Height)"),
  list("ToothGrowth.csv", "len ~ supp * dose"),
  list("ToothGrowth.csv", "len ~ supp * factor(dose)"),
  list("warpbreaks.csv", "breaks ~ wool * tension"),
  list("warpbreaks.csv", "breaks ~ 0 + tension"),
  list("PlantGrowth.csv", "weight ~ group"),
  list("InsectSprays.csv", "sqrt(count) ~ spray"),
  list("airquality.csv", "log(Ozone) ~ Solar.R + Wind + I(Temp^2) + factor(Month)"),
  list("CO2.csv", "uptake ~ Type * Treatment + log(conc)"),
  list("chickwts.csv", "weight ~ feed - 1"),
  list("mtcars.csv", "mpg ~ I(disp/100) + hp:factor(am) + 0"),
  list("iris.csv", "Sepal.Length ~ Sepal.Width:Species"),
  list("mtcars.csv", "I(1/mpg) ~ wt + I(wt^2) + exp(-qsec/10) + log2(hp) + log10(disp) + log1p(carb) + abs(drat - 3.5)")
)
cat("[\n")
for (k in seq_along(models)) {
  m <- models[[k]]; d <- rd(m[[1]])
  fit <- lm(as.formula(m[[2]]), data = d)
  s <- summary(fit); co <- coef(s)
  f <- if (is.null(s$fstatistic)) c(NA, NA, NA) else s$fstatistic
  cat(sprintf('{"file": "%s", "formula": "%s", "n": %d, "names": [%s], "estimate": [%s], "se": [%s], "t": [%s], "p": [%s], "sigma": %.17g, "r2": %.17g, "adj_r2": %.17g, "f": %.17g, "df": [%.17g, %.17g]}%s\n',
    m[[1]], m[[2]], nobs(fit), paste0('"', rownames(co), '"', collapse = ", "),
    paste(sprintf("%.17g", co[, 1]), collapse = ", "), paste(sprintf("%.17g", co[, 2]), collapse = ", "),
    paste(sprintf("%.17g", co[, 3]), collapse = ", "), paste(sprintf("%.17g", co[, 4]), collapse = ", "),
    s$sigma, s$r.squared, s$adj.r.squared, f[1], f[2], f[3], if (k < length(models)) "," else ""))
}
cat("]\n")
