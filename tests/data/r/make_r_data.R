# Exports R's data sets used by the formula tests (run: Rscript tests/data/r/make_r_data.R).
# Row names become a text column "name" where R has them (mtcars, state.x77-like sets).
out <- "tests/data/r"
w <- function(d, f) write.csv(d, file.path(out, f), row.names = FALSE)
m <- mtcars; m <- cbind(name = rownames(m), m); w(m, "mtcars.csv")
w(iris, "iris.csv")
w(trees, "trees.csv")
w(ToothGrowth, "ToothGrowth.csv")
w(warpbreaks, "warpbreaks.csv")
w(PlantGrowth, "PlantGrowth.csv")
w(InsectSprays, "InsectSprays.csv")
w(airquality, "airquality.csv")
c2 <- as.data.frame(CO2); c2$Plant <- as.character(c2$Plant); c2$Type <- as.character(c2$Type); c2$Treatment <- as.character(c2$Treatment); w(c2, "CO2.csv")
w(chickwts, "chickwts.csv")
w(esoph[, c("agegp", "alcgp", "ncases", "ncontrols")], "esoph.csv")
